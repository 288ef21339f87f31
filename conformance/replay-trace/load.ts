/**
 * What `cnmkit replay FILE` was given: a trace (`cnmkit-trace/1`, from
 * `cnmkit record`) or a replay file (`cnmkit-replay/1`, from `cnmkit check`),
 * told apart by content. A replay file comes with its trace form, so the
 * same engine can replay its calls.
 */
import { readFile } from 'node:fs/promises';
import { parseTrace, type TraceSession } from '../../src/record/trace.js';
import { ReplayFileError } from '../errors.js';
import { REPLAY_FORMAT, type ReplayFile } from '../replay-file.js';
import { traceOfReplayFile } from './replay-file-trace.js';

export type ReplayInput =
  | { readonly kind: 'trace'; readonly sessions: readonly TraceSession[]; readonly damagedLines: readonly number[] }
  | { readonly kind: 'replay-file'; readonly file: ReplayFile; readonly sessions: readonly TraceSession[]; readonly damagedLines: readonly number[] };

function asReplayFile(text: string): ReplayFile | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  const f = data as Partial<ReplayFile> | null;
  if (typeof f !== 'object' || f === null || f.format !== REPLAY_FORMAT) return null;
  if (typeof f.check !== 'string' || typeof f.seed !== 'number' || !f.config || !Array.isArray(f.calls)) throw new ReplayFileError(`not a complete ${REPLAY_FORMAT} file`);
  return f as ReplayFile;
}

/** Tell the format by content; a trace's format errors are TraceFormatError (E_TRACE_FORMAT). */
export function parseReplayInput(text: string): ReplayInput {
  const file = asReplayFile(text);
  if (file !== null) {
    const t = traceOfReplayFile(file);
    return { kind: 'replay-file', file, sessions: [{ header: t.header, calls: t.calls }], damagedLines: [] };
  }
  const parsed = parseTrace(text);
  return { kind: 'trace', sessions: parsed.sessions, damagedLines: parsed.damagedLines };
}

export async function loadReplayInput(path: string): Promise<ReplayInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ReplayFileError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return parseReplayInput(text);
  } catch (e) {
    if (e instanceof Error) e.message = `${path}: ${e.message}`;
    throw e;
  }
}
