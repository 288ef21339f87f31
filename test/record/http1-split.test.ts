/** The message splitter's framing corners: interim replies, bodiless statuses, HEAD, bad framing, split lines. */
import { describe, expect, it } from 'vitest';
import { MessageSplitter, type ReplyHead, type RequestHead } from '../../src/record/http1-split.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('MessageSplitter', () => {
  it('a 100 Continue before the reply belongs to the same exchange', () => {
    const s = new MessageSplitter<ReplyHead>('reply', 1024);
    const text = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}';
    const done = s.push(b(text));
    expect(done).toHaveLength(1);
    expect(done[0]!.end).toBe(text.length);
    expect(done[0]!.message.head.status).toBe(200);
    expect(done[0]!.message.interim).toBe(1);
  });

  it('204, 304 and replies to HEAD have no body whatever their headers say', () => {
    const s = new MessageSplitter<ReplyHead>('reply', 1024);
    expect(s.push(b('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n'))).toHaveLength(1);
    let head = true;
    const h = new MessageSplitter<ReplyHead>('reply', 1024, () => head);
    expect(h.push(b('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'))).toHaveLength(1);
    head = false;
    expect(h.push(b('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{'))).toHaveLength(0);
    expect(h.push(b('}'))[0]!.message.body.toString()).toBe('{}');
  });

  it('a close-delimited reply completes at the close; a partial one does not', () => {
    const s = new MessageSplitter<ReplyHead>('reply', 1024);
    expect(s.push(b('HTTP/1.0 200 OK\r\n\r\n{"a"'))).toHaveLength(0);
    expect(s.closeDelimited).toBe(true);
    expect(s.push(b(':1}'))).toHaveLength(0);
    expect(s.end()!.body.toString()).toBe('{"a":1}');
    const cut = new MessageSplitter<ReplyHead>('reply', 1024);
    cut.push(b('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{'));
    expect(cut.end()).toBeNull();
    expect(cut.idle).toBe(false);
  });

  it('header lines split anywhere, bare LF line ends, header order and case kept', () => {
    const s = new MessageSplitter<RequestHead>('request', 1024);
    const text = 'POST /IpamDriver.RequestPool HTTP/1.1\nHost: \r\nuser-AGENT: Go-http-client/1.1\r\nContent-Length: 2\r\n\r\n{}';
    const out = [...text].flatMap((ch) => s.push(b(ch)));
    expect(out).toHaveLength(1);
    expect(out[0]!.message.headers).toEqual([['Host', ''], ['user-AGENT', 'Go-http-client/1.1'], ['Content-Length', '2']]);
    expect(out[0]!.message.head.path).toBe('/IpamDriver.RequestPool');
  });

  it('framing it cannot follow makes it broken (then the bytes pass through unread)', () => {
    for (const bad of ['garbage\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', 'HTTP/1.1 200 OK\r\nbad header\r\n\r\n']) {
      const s = new MessageSplitter<ReplyHead>('reply', 1024);
      s.push(b(bad));
      expect(s.broken, bad).toBe(true);
      expect(s.problem).not.toBe('');
    }
  });

  it('keeps at most keepBodyBytes of a body but counts all of it', () => {
    const s = new MessageSplitter<ReplyHead>('reply', 4);
    const m = s.push(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3;x=y\r\ndef\r\n0\r\nTrailer: t\r\n\r\n'))[0]!.message;
    expect(m.body.toString()).toBe('abcd');
    expect(m.bodyLength).toBe(6);
  });

  it('pipelined messages in one chunk each end where they end', () => {
    const s = new MessageSplitter<RequestHead>('request', 1024);
    const one = 'POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n';
    const two = 'POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz';
    const out = s.push(b(one + two));
    expect(out.map((o) => o.end)).toEqual([one.length, one.length + two.length]);
  });
});
