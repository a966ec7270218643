import { TestServers } from '../src/testing/servers.js';
import { FIXTURES, startFixture } from './tls-fixtures.js';
import { runPortcullis } from './tls-peers.js';
const servers = new TestServers();
for (const name of process.argv.slice(2)) {
  const s = await startFixture(servers, FIXTURES.find((f) => f.name === name)!);
  for (let i = 0; i < 3; i++) {
    const r = await runPortcullis('127.0.0.1', s.port, '/tmp/root.pem');
    console.log(name, 'wall', r.wallMs.toFixed(0), 'engine', r.engineMs, 'conns', r.connections);
  }
}
await servers.closeAll();
