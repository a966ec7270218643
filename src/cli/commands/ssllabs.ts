import { Command } from '@commander-js/extra-typings';
import { loadConfig } from '../../config/index.js';
import { type CliIo, writeJson } from '../io.js';

/** `portcullis ssllabs …`: one-off calls to the SSL Labs API (registration, limits). */
export function sslLabsCommand(io: CliIo) {
  const command = new Command('ssllabs').description('The optional Qualys SSL Labs engine: register the organisation email once, check the limits SSL Labs gives you');

  command
    .command('register')
    .description('Register an organisation email with SSL Labs API v4 (once; free-mail addresses are refused by SSL Labs)')
    .requiredOption('--first-name <name>')
    .requiredOption('--last-name <name>')
    .requiredOption('--email <email>', 'organisation email; afterwards set PORTCULLIS_SSLLABS_EMAIL to it')
    .requiredOption('--organization <name>')
    .addHelpText(
      'after',
      `
Sends one POST to <ssllabs.baseUrl>/v4/register. Using the SSL Labs API is subject to its terms
(https://www.ssllabs.com/about/terms.html): commercial use needs Qualys' permission.`,
    )
    .action(async (opts) => {
      const config = await loadConfig(io.env);
      const { sslLabsClient } = await import('../../ssllabs/index.js');
      const client = sslLabsClient({ ...config.ssllabs, apiVersion: 'v4' });
      const result = await client.register({ firstName: opts.firstName, lastName: opts.lastName, email: opts.email, organization: opts.organization });
      io.stdout.write(`${result.message ?? 'registered'}\nnow set PORTCULLIS_SSLLABS_EMAIL=${opts.email} (or ssllabs.email in the config file) to turn the SSL Labs engine on\n`);
    });

  command
    .command('info')
    .description("Ask SSL Labs for its engine and criteria versions and this client's limits (max concurrent assessments, current, cool-off)")
    .option('--json', 'print SSL Labs\' info object as JSON')
    .action(async (opts) => {
      const config = await loadConfig(io.env);
      const { notConfigured, sslLabsClient } = await import('../../ssllabs/index.js');
      if (config.ssllabs.email === undefined) throw notConfigured();
      const info = await sslLabsClient(config.ssllabs).info();
      if (opts.json) {
        writeJson(io, info);
        return;
      }
      io.stdout.write(
        [
          `SSL Labs ${config.ssllabs.baseUrl} (API ${config.ssllabs.apiVersion}), engine ${info.engineVersion ?? '?'}, criteria ${info.criteriaVersion ?? '?'}`,
          `assessments: ${info.currentAssessments ?? '?'} running of at most ${info.maxAssessments ?? '?'}; cool-off between new assessments ${info.newAssessmentCoolOff ?? '?'} ms`,
          ...(info.messages ?? []).map((m) => `message: ${m}`),
        ].join('\n') + '\n',
      );
    });
  return command;
}
