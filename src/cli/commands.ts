import type { Argv } from 'yargs';
import { registerCheck } from './check.js';
import { registerMergeReports } from './merge-reports.js';
import { registerRecord } from './record.js';
import { registerReplay } from './replay.js';
import { registerServe } from './serve.js';
import { registerSimulate } from './simulate.js';

/** Each command module exports a function that adds itself to the parser. */
export type RegisterCommand = (cli: Argv) => Argv;

export const commands: RegisterCommand[] = [registerServe, registerCheck, registerReplay, registerSimulate, registerMergeReports, registerRecord];
