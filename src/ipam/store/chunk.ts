/**
 * One stored piece of a master pool's allocation bitmap: CHUNK_BITS addresses
 * (fewer in the last chunk of a small pool) and the offsets handed out as
 * gateways. Value layout: ceil(len/8) bitmap bytes (bit i = byte i>>3, mask
 * 1<<(i&7)), then the gateway offsets as u16 LE. An absent key is an empty chunk.
 */
import { StoreError } from './errors.js';

export const CHUNK_BITS = 1024;
export const CHUNK_BITS_N = BigInt(CHUNK_BITS);

export class Chunk {
  readonly len: number;
  readonly bits: Uint8Array;
  readonly gateways: Set<number>;
  count: number;

  private constructor(len: number, bits: Uint8Array, gateways: Set<number>, count: number) {
    this.len = len;
    this.bits = bits;
    this.gateways = gateways;
    this.count = count;
  }

  static empty(len: number): Chunk {
    return new Chunk(len, new Uint8Array((len + 7) >> 3), new Set(), 0);
  }

  static decode(len: number, value: Buffer | null): Chunk {
    if (value === null) return Chunk.empty(len);
    const n = (len + 7) >> 3;
    if (value.length < n || (value.length - n) % 2 !== 0) throw new StoreError('E_STORE_CORRUPT', `allocation chunk of ${value.length} bytes for ${len} addresses`);
    const bits = new Uint8Array(n);
    bits.set(value.subarray(0, n));
    let count = 0;
    for (let i = 0; i < n; i++) count += popcount8(bits[i]!);
    const gateways = new Set<number>();
    for (let o = n; o < value.length; o += 2) gateways.add(value.readUInt16LE(o));
    return new Chunk(len, bits, gateways, count);
  }

  clone(): Chunk {
    return new Chunk(this.len, this.bits.slice(), new Set(this.gateways), this.count);
  }

  encode(): Buffer {
    const out = Buffer.alloc(this.bits.length + 2 * this.gateways.size);
    out.set(this.bits, 0);
    let o = this.bits.length;
    for (const g of this.gateways) {
      out.writeUInt16LE(g, o);
      o += 2;
    }
    return out;
  }

  get full(): boolean {
    return this.count >= this.len;
  }

  has(i: number): boolean {
    return (this.bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }

  /** Sets bit i; false when it was set already. */
  add(i: number): boolean {
    const b = i >> 3;
    const mask = 1 << (i & 7);
    if ((this.bits[b]! & mask) !== 0) return false;
    this.bits[b]! |= mask;
    this.count++;
    return true;
  }

  /** Clears bit i; false when it was clear. */
  delete(i: number): boolean {
    const b = i >> 3;
    const mask = 1 << (i & 7);
    if ((this.bits[b]! & mask) === 0) return false;
    this.bits[b]! &= ~mask;
    this.count--;
    this.gateways.delete(i);
    return true;
  }

  /** First clear bit in [from, to] (inclusive), or -1. */
  firstFree(from: number, to: number): number {
    let i = from;
    while (i <= to) {
      const byte = this.bits[i >> 3]!;
      if (byte === 0xff && (i & 7) === 0) {
        i += 8;
        continue;
      }
      if ((byte & (1 << (i & 7))) === 0) return i;
      i++;
    }
    return -1;
  }
}

function popcount8(b: number): number {
  let c = 0;
  for (let x = b; x !== 0; x &= x - 1) c++;
  return c;
}
