/**
 * The baseline: a fastify hello-world on the same machine, in its own process like the log.
 * Prints "listening <url>" once ready.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening ${url}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
