/**
 * Raw HTTP exchanges, independent of any transport: the seam between the SDK
 * (which turns a driver/IPAM object into a RawHandler), the HTTP server, and
 * the client (whose in-process transport calls a RawHandler directly).
 */
export interface RawRequest {
  /** HTTP method, normally `POST`. */
  readonly method: string;
  /** e.g. `/IpamDriver.RequestPool`. */
  readonly path: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface RawReply {
  readonly status: number;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface RawHandler {
  handle(req: RawRequest, signal?: AbortSignal): Promise<RawReply>;
}
