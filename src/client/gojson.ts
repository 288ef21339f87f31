/**
 * The two ways dockerd reads JSON from a plugin, with Go's error texts:
 * - `goDecodeFirst`: `json.NewDecoder(body).Decode(&v)` on 200 replies: only
 *   the first value is read, trailing bytes are ignored, an empty body is `EOF`;
 * - `goUnmarshalErr`: `json.Unmarshal(body, &struct{Err string})` on non-200
 *   replies: the whole body must be one value, otherwise the raw body is used.
 */

export type FirstValue =
  | { readonly ok: true; readonly value: unknown; /** Non-whitespace bytes after the value. */ readonly trailing: string }
  | { readonly ok: false; readonly message: string };

class SyntaxErr extends Error {}

/** Go's quoteChar: how a byte is shown in "invalid character ..." messages. */
function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const q = JSON.stringify(c);
  return `'${q.slice(1, -1)}'`;
}

const WS = new Set([' ', '\t', '\n', '\r']);

/** A scanner over one JSON value that reports Go's scanner messages. */
class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  private eof(): never {
    throw new SyntaxErr('unexpected EOF');
  }
  private bad(c: string, context: string): never {
    throw new SyntaxErr(`invalid character ${quoteChar(c)} ${context}`);
  }
  skipWs(): void {
    while (this.i < this.s.length && WS.has(this.s[this.i]!)) this.i++;
  }
  private peekWs(): string {
    this.skipWs();
    if (this.i >= this.s.length) this.eof();
    return this.s[this.i]!;
  }

  value(): void {
    const c = this.peekWs();
    this.valueAt(c, 'looking for beginning of value');
  }

  private valueAt(c: string, context: string): void {
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (c === 't') return this.literal('true');
    if (c === 'f') return this.literal('false');
    if (c === 'n') return this.literal('null');
    this.bad(c, context);
  }

  private object(): void {
    this.i++; // {
    let c = this.peekWs();
    if (c === '}') {
      this.i++;
      return;
    }
    for (;;) {
      if (c !== '"') this.bad(c, 'looking for beginning of object key string');
      this.string();
      c = this.peekWs();
      if (c !== ':') this.bad(c, 'after object key');
      this.i++;
      this.value();
      c = this.peekWs();
      if (c === '}') {
        this.i++;
        return;
      }
      if (c !== ',') this.bad(c, 'after object key:value pair');
      this.i++;
      c = this.peekWs();
    }
  }

  private array(): void {
    this.i++; // [
    let c = this.peekWs();
    if (c === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.valueAt(c, 'looking for beginning of value');
      c = this.peekWs();
      if (c === ']') {
        this.i++;
        return;
      }
      if (c !== ',') this.bad(c, 'after array element');
      this.i++;
      c = this.peekWs();
    }
  }

  private string(): void {
    this.i++; // opening quote
    const s = this.s;
    for (;;) {
      if (this.i >= s.length) this.eof();
      const c = s[this.i]!;
      if (c === '"') {
        this.i++;
        return;
      }
      if (c < ' ') this.bad(c, 'in string literal');
      if (c === '\\') {
        this.i++;
        if (this.i >= s.length) this.eof();
        const e = s[this.i]!;
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (this.i + k >= s.length) this.eof();
            const h = s[this.i + k]!;
            if (!/[0-9a-fA-F]/.test(h)) {
              this.i += k;
              this.bad(h, 'in \\u hexadecimal character escape');
            }
          }
          this.i += 5;
          continue;
        }
        if (!'"\\/bfnrt'.includes(e)) this.bad(e, 'in string escape code');
        this.i++;
        continue;
      }
      this.i++;
    }
  }

  private digits(): number {
    const start = this.i;
    while (this.i < this.s.length && this.s[this.i]! >= '0' && this.s[this.i]! <= '9') this.i++;
    return this.i - start;
  }

  private number(): void {
    const s = this.s;
    if (s[this.i] === '-') {
      this.i++;
      if (this.i >= s.length) this.eof();
      const c = s[this.i]!;
      if (!(c >= '0' && c <= '9')) this.bad(c, 'in numeric literal');
    }
    if (s[this.i] === '0') this.i++;
    else this.digits();
    if (s[this.i] === '.') {
      this.i++;
      if (this.i >= s.length) this.eof();
      if (this.digits() === 0) this.bad(s[this.i]!, 'after decimal point in numeric literal');
    }
    if (s[this.i] === 'e' || s[this.i] === 'E') {
      this.i++;
      if (s[this.i] === '+' || s[this.i] === '-') this.i++;
      if (this.i >= s.length) this.eof();
      if (this.digits() === 0) this.bad(s[this.i]!, 'in exponent of numeric literal');
    }
  }

  private literal(word: string): void {
    for (let k = 0; k < word.length; k++) {
      if (this.i + k >= this.s.length) this.eof();
      const c = this.s[this.i + k]!;
      if (c !== word[k]) {
        this.i += k;
        this.bad(c, `in literal ${word} (expecting ${quoteChar(word[k]!)})`);
      }
    }
    this.i += word.length;
  }
}

/** Read the first JSON value of a body like Go's json.Decoder.Decode. */
export function goDecodeFirst(text: string): FirstValue {
  // Fast path: a body that is exactly one JSON value (plus JSON whitespace) is what the
  // scanner would accept too, with nothing trailing; anything else takes Go's scanner.
  try {
    return { ok: true, value: JSON.parse(text) as unknown, trailing: '' };
  } catch {
    // fall through: the scanner finds Go's message, or the first value and what trails it
  }
  const sc = new Scanner(text);
  sc.skipWs();
  if (sc.i >= text.length) return { ok: false, message: 'EOF' };
  const start = sc.i;
  try {
    sc.value();
  } catch (e) {
    if (e instanceof SyntaxErr) return { ok: false, message: e.message };
    throw e;
  }
  const end = sc.i;
  sc.skipWs();
  return { ok: true, value: JSON.parse(text.slice(start, end)) as unknown, trailing: text.slice(sc.i) };
}

/**
 * The `Err` dockerd extracts from a non-200 body, or undefined when it falls
 * back to the raw body (not exactly one JSON value, Err not a string, or empty).
 */
export function goUnmarshalErr(text: string): string | undefined {
  const first = goDecodeFirst(text);
  if (!first.ok || first.trailing !== '') return undefined;
  const v = first.value;
  // Go: unmarshalling a non-object into a struct is a type error (raw body is used); null is a no-op.
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  let err = '';
  // Go assigns every key that folds to the field, in document order: the last one wins.
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (k.toLowerCase() !== 'err' || val === null) continue;
    if (typeof val !== 'string') return undefined;
    err = val;
  }
  return err === '' ? undefined : err;
}
