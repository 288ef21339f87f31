/**
 * `cnmkit merge-reports DIR`: the shard reports of one campaign (`cnmkit check
 * | simulate --seeds A..B --shard i/n`, gathered from CI jobs into DIR) as one
 * report in any reporter format, every failure with its seed and replay file.
 * Exit: 0 no seed failing, 1 a seed failed, 2 bad input (no reports, a missing
 * or doubled shard, shards of different campaigns or configurations).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Argv } from 'yargs';
import { campaignExitCode, mergeShardReports, readShardDir, renderCampaign } from '../../conformance/report/merge.js';
import { planReporters } from './check.js';

interface MergeArgs {
  dir: string;
  reporter?: string[];
  output?: string[];
  color?: boolean;
}

export function registerMergeReports(cli: Argv): Argv {
  return cli.command(
    'merge-reports <dir>',
    'Merge the shard reports of a campaign (check/simulate --seeds A..B --shard i/n) into one report (exit 0 passing, 1 a seed failed, 2 bad input)',
    (y) =>
      y
        .positional('dir', { type: 'string', demandOption: true, describe: 'directory holding every shard-<i>-of-<n>.json of one campaign' })
        .option('reporter', { type: 'string', array: true, describe: 'console|json|junit|tap|html; repeatable, NAME:FILE or paired with --output' })
        .option('output', { type: 'string', array: true, describe: 'file for the reporter at the same position' })
        .option('color', { type: 'boolean', describe: 'colour the console report (default: when stdout is a TTY)' }),
    async (argv) => {
      process.exitCode = await mergeReports(argv as unknown as MergeArgs);
    },
  );
}

export async function mergeReports(a: MergeArgs): Promise<number> {
  const reporters = planReporters(a.reporter, a.output);
  const campaign = mergeShardReports(await readShardDir(a.dir));
  const color = a.color ?? process.stdout.isTTY === true;
  for (const r of reporters) {
    const text = renderCampaign(r.name, campaign, r.file === null ? color : false);
    if (r.file === null) process.stdout.write(text);
    else {
      await mkdir(dirname(r.file), { recursive: true });
      await writeFile(r.file, text);
    }
  }
  if (reporters.every((r) => r.file !== null || r.name !== 'console')) {
    const failing = campaign.runs.filter((r) => r.summary.failing > 0).length;
    process.stderr.write(`cnmkit merge-reports: ${campaign.shards} shards, ${campaign.runs.length} seeds, ${failing} failing\n`);
  }
  return campaignExitCode(campaign);
}
