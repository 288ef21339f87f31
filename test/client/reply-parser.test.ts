/** The client's HTTP/1.1 reply parser: whole replies, split anywhere, and the mode that cuts an oversize body. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplyParser, TransportError, type ParsedReply } from '../../src/client/index.js';

const HEAD = 1024;

/** Feeds `bytes` in the given pieces, then ends the stream; returns the reply or the TransportError. */
function feed(bytes: Buffer, cuts: number[], maxBody: number, truncateBody: boolean): ParsedReply | TransportError {
  const p = new ReplyParser(HEAD, maxBody, { truncateBody });
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  try {
    for (const c of [...points, bytes.length]) {
      const r = p.push(bytes.subarray(at, c));
      at = c;
      if (r !== null) return r;
    }
    return p.end();
  } catch (e) {
    if (e instanceof TransportError) return e;
    throw e;
  }
}

const lengthReply = (body: string): Buffer => Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
const chunkedReply = (body: string, size: number): Buffer => {
  let out = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (let i = 0; i < body.length; i += size) {
    const c = body.slice(i, i + size);
    out += `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`;
  }
  return Buffer.from(`${out}0\r\n\r\n`);
};
const closeReply = (body: string): Buffer => Buffer.from(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${body}`);

const framings = [
  ['Content-Length', (b: string) => lengthReply(b)],
  ['chunked', (b: string) => chunkedReply(b, 7)],
  ['close-delimited', (b: string) => closeReply(b)],
] as const;

describe('ReplyParser', () => {
  for (const [name, frame] of framings) {
    it(`${name}: any split gives the same reply; within the limit nothing is cut`, () => {
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 200 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (body, cuts, truncateBody) => {
          const r = feed(frame(body), cuts, 200, truncateBody);
          expect(r).not.toBeInstanceOf(TransportError);
          expect((r as ParsedReply).body.toString('latin1')).toBe(body);
          expect((r as ParsedReply).truncated).toBe(false);
        }),
      );
    });

    it(`${name}: over the limit, the truncating mode returns the first bytes, marked truncated; the default mode fails`, () => {
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 300 }), fc.integer({ min: 0, max: 299 }), fc.array(fc.nat(), { maxLength: 6 }), (body, max, cuts) => {
          fc.pre(body.length > max);
          const cut = feed(frame(body), cuts, max, true);
          expect(cut).not.toBeInstanceOf(TransportError);
          expect((cut as ParsedReply).truncated).toBe(true);
          expect((cut as ParsedReply).reusable).toBe(false);
          expect((cut as ParsedReply).body.toString('latin1')).toBe(body.slice(0, max));
          const refused = feed(frame(body), cuts, max, false);
          expect(refused).toBeInstanceOf(TransportError);
          expect((refused as TransportError).kind).toBe('body-too-large');
        }),
      );
    });
  }

  it('malformed replies fail with not-http or eof in either mode', () => {
    for (const truncateBody of [false, true]) {
      expect((feed(Buffer.from('garbage\r\n\r\n'), [], 100, truncateBody) as TransportError).kind).toBe('not-http');
      expect((feed(Buffer.from('HTTP/1.1 200OK\r\n\r\n'), [], 100, truncateBody) as TransportError).kind).toBe('not-http');
      expect((feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), [], 100, truncateBody) as TransportError).kind).toBe('eof');
      expect((feed(Buffer.from(''), [], 100, truncateBody) as TransportError).message).toBe('EOF');
    }
  });
});
