/**
 * Child process of tls-concurrency.ts: starts the given fixtures on 127.0.1.1 … 127.0.1.N and prints one
 * JSON line `{root, endpoints: [{name, host, port}, …]}` (root: the PEM of this process's test CA), then
 * serves until killed. Keeping the servers in their own process
 * keeps their CPU and memory out of the measured process.
 *
 *   npx tsx bench/tls-fixture-server.ts <addresses> <fixture>…
 */
import { testPki } from '../src/testing/pki.js';
import { TestServers } from '../src/testing/servers.js';
import { FIXTURES, startFixture } from './tls-fixtures.js';

const [count, ...names] = process.argv.slice(2);
const servers = new TestServers();
const endpoints: Array<{ name: string; host: string; port: number }> = [];
for (let i = 1; i <= Number(count); i++) {
  for (const name of names) {
    const fixture = FIXTURES.find((f) => f.name === name);
    if (fixture === undefined) throw new Error(`unknown fixture ${name}`);
    const server = await startFixture(servers, fixture, `127.0.1.${i}`);
    endpoints.push({ name, host: server.host, port: server.port });
  }
}
process.stdout.write(`${JSON.stringify({ root: (await testPki()).root.pem, endpoints })}\n`);
process.on('SIGTERM', () => void servers.closeAll().then(() => process.exit(0)));
