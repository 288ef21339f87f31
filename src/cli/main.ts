/**
 * `cnmkit` command line. Commands are registered only once they work; each
 * lives in its own module and binds flags onto a library config object.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands.js';
import { exitWithError } from './errors.js';

async function main(argv: string[]): Promise<void> {
  let cli = yargs(argv)
    .scriptName('cnmkit')
    .usage('$0 <command> [options]\n\nSimulation and conformance framework for Docker network plugins.')
    .strict()
    .demandCommand(1, 'a command is required (see --help)')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs' own parse errors: one line, exit 2 (usage).
      if (err) exitWithError(err);
      // yargs words some messages over several lines (bad choices): fold them.
      process.stderr.write(`cnmkit: ${msg.replace(/\s*\n\s*/g, ' ')} (see 'cnmkit --help')\n`);
      process.exit(2);
    })
    .help()
    .alias('h', 'help')
    .version();
  for (const register of commands) cli = register(cli);
  await cli.parseAsync();
}

main(hideBin(process.argv)).catch(exitWithError);
