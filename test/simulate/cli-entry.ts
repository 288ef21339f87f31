/** `cnmkit simulate` alone, wired the way src/cli/main.ts wires every command (for the CLI tests). */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { exitWithError } from '../../src/cli/errors.js';
import { registerSimulate } from '../../src/cli/simulate.js';

const cli = registerSimulate(
  yargs(hideBin(process.argv))
    .scriptName('cnmkit')
    .strict()
    .demandCommand(1)
    .fail((msg, err) => {
      if (err) exitWithError(err);
      process.stderr.write(`cnmkit: ${msg}\n`);
      process.exit(2);
    }),
);
cli.parseAsync().catch(exitWithError);
