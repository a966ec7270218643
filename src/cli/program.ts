import { Command, CommanderError } from '@commander-js/extra-typings';
import { VERSION } from '../shared/version.js';
import { keysCommand } from './commands/keys.js';
import { migrateCommand } from './commands/migrate.js';
import { reportCommand } from './commands/report.js';
import { scanPortsCommand, type ScanPortsDeps } from './commands/scan-ports.js';
import { scanTlsCommand, type ScanTlsDeps } from './commands/scan-tls.js';
import { scansCommand } from './commands/scans.js';
import { serveCommand } from './commands/serve.js';
import { sslLabsCommand } from './commands/ssllabs.js';
import { targetsCommand } from './commands/targets.js';
import { workerCommand } from './commands/worker.js';
import { type CliIo, EXIT_OK, EXIT_USAGE, errorLine, exitCodeFor } from './io.js';

export type CliDeps = ScanPortsDeps & ScanTlsDeps;

export function buildProgram(io: CliIo, deps: CliDeps = {}) {
  const program = new Command('portcullis')
    .description('Portcullis: how exposed is your perimeter? Port scans like nmap and TLS grades like SSL Labs, with history and diffs, as a service, a CLI and an API.')
    .version(VERSION)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Commander's own messages ("error: unknown option") get the prefix every other error has.
      outputError: (s, write) => write(`portcullis: ${s}`),
    })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Configuration comes from environment variables (PORTCULLIS_PORT, PORTCULLIS_DATA_DIR, DATABASE_URL,
PORTCULLIS_LOG_LEVEL, …) and an optional JSON file named by PORTCULLIS_CONFIG; see the README.

Exit codes: 0 success, 1 the scan or request failed, 2 usage error.`,
    );
  program.addCommand(serveCommand(io));
  program.addCommand(workerCommand(io));
  program.addCommand(migrateCommand(io));
  program.addCommand(
    new Command('scan').description('Run a scan in this process, without a server').addCommand(scanPortsCommand(io, deps)).addCommand(scanTlsCommand(io, deps)),
  );
  program.addCommand(scansCommand(io));
  program.addCommand(sslLabsCommand(io));
  program.addCommand(targetsCommand(io));
  program.addCommand(reportCommand(io));
  program.addCommand(keysCommand(io));
  program.exitOverride();
  for (const cmd of program.commands) {
    cmd.copyInheritedSettings(program).exitOverride();
    for (const sub of cmd.commands) sub.copyInheritedSettings(program).exitOverride();
  }
  return program;
}

/** Runs the CLI and returns its exit code instead of exiting, so tests can run it in-process. */
export async function runCli(argv: readonly string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  const program = buildProgram(io, deps);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with exit code 0; everything else commander rejects is a usage error.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    io.stderr.write(`${errorLine(err)}\n`);
    return exitCodeFor(err);
  }
}
