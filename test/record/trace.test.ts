/**
 * The trace format (docs/trace.md): bodies as UTF-8 or base64, a reader that
 * copes with a crash (partial last line, no summary) and with a restarted
 * recorder appending a new session to the same file.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, encodeBody, parseTrace, readTrace, TRACE_FORMAT, TraceFormatError, TraceWriter, type TraceCall, type TraceHeader } from '../../src/record/trace.js';
import { tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const header = (name: string): TraceHeader => ({ type: 'header', format: TRACE_FORMAT, name, socket: '/s', upstream: { kind: 'socket', address: '/u' }, startedAt: '2026-12-05T00:00:00.000Z', cnmkit: '0.1.0' });
const call = (seq: number): TraceCall => ({
  type: 'call',
  seq,
  conn: 1,
  t0: 1,
  t1: 2,
  durMs: 1,
  request: { method: 'POST', path: '/IpamDriver.RequestPool', headers: [['Host', '']], body: '' },
  reply: { status: 200, headers: [], body: '{}\n' },
  call: { method: 'RequestPool', iface: 'IpamDriver', request: null, reply: {}, ok: true },
  violations: [],
});

describe('trace bodies', () => {
  it('valid UTF-8 stays text, anything else is base64, and both give the bytes back', () => {
    const text = encodeBody(Buffer.from('{"Pool":"10.0.0.0/24"}\n'));
    expect(text).toEqual({ body: '{"Pool":"10.0.0.0/24"}\n' });
    const bin = encodeBody(Buffer.from([0xff, 0x00, 0xc3]));
    expect(bin.encoding).toBe('base64');
    expect(bodyBytes(bin)).toEqual(Buffer.from([0xff, 0x00, 0xc3]));
    expect(bodyBytes(text).toString()).toBe('{"Pool":"10.0.0.0/24"}\n');
  });
});

describe('trace reader', () => {
  it('reads sessions with and without a summary', () => {
    const path = join(dir.path, 'a.jsonl');
    const w = TraceWriter.open(path);
    w.append(header('one'));
    w.append(call(1));
    w.append({ type: 'summary', endedAt: 'x', calls: 1, violations: { must: 0, should: 0, compat: 0 }, latency: {} });
    w.close();
    const t = readTrace(path);
    expect(t.sessions).toHaveLength(1);
    expect(t.sessions[0]!.summary?.calls).toBe(1);
    expect(t.damagedLines).toEqual([]);
  });

  it('ignores a partial last line a crash left, and a restarted writer starts on a fresh line with a new header', () => {
    const path = join(dir.path, 'b.jsonl');
    const w = TraceWriter.open(path);
    w.append(header('first'));
    w.append(call(1));
    w.close();
    appendFileSync(path, JSON.stringify(call(2)).slice(0, 40)); // killed mid-write
    const crashed = readTrace(path);
    expect(crashed.sessions[0]!.calls.map((c) => c.seq)).toEqual([1]);
    expect(crashed.damagedLines).toEqual([3]);
    expect(crashed.sessions[0]!.summary).toBeUndefined();
    const again = TraceWriter.open(path);
    again.append(header('second'));
    again.append(call(1));
    again.close();
    const t = readTrace(path);
    expect(t.sessions.map((s) => s.header.name)).toEqual(['first', 'second']);
    expect(t.sessions.map((s) => s.calls.length)).toEqual([1, 1]);
    expect(t.damagedLines).toEqual([3]);
  });

  it('refuses a damaged line in the middle, a call before any header, and another format', () => {
    const good = `${JSON.stringify(header('h'))}\n${JSON.stringify(call(1))}\n`;
    expect(() => parseTrace(`${good}{"type":"ca\n${JSON.stringify(call(2))}\n`)).toThrow(TraceFormatError);
    expect(() => parseTrace(`${JSON.stringify(call(1))}\n`)).toThrow(/before the first header/);
    expect(() => parseTrace(`${JSON.stringify({ ...header('h'), format: 'other/9' })}\n`)).toThrow(/format/);
    expect(() => parseTrace('')).toThrow(/no header/);
  });

  it('a trace written by the writer round-trips unknown extra fields (readers ignore what they do not know)', () => {
    const path = join(dir.path, 'c.jsonl');
    writeFileSync(path, `${JSON.stringify({ ...header('x'), future: 1 })}\n${JSON.stringify({ ...call(1), future: { a: 1 } })}\n`);
    expect(readTrace(path).sessions[0]!.calls[0]!.seq).toBe(1);
    expect(readFileSync(path, 'utf8').endsWith('\n')).toBe(true);
  });
});
