import express from 'express';
import Router from 'express-promise-router';
import request from 'supertest';
import { onPaths } from './onPaths';

/** An app whose `inner` router counts every request that enters it. */
function app() {
  const entered: string[] = [];
  const inner = Router();
  inner.use((req, _res, next) => {
    entered.push(req.path);
    next();
  });
  inner.get('/v1/thing', (_req, res) => {
    res.send('thing');
  });
  inner.get('/v1/thing/:id', (req, res) => {
    res.send(`thing ${req.params.id}`);
  });
  inner.get('/v1/fail', () => {
    throw new Error('inner failure');
  });
  const outer = express();
  outer.get('/v1/before', () => {
    throw new Error('outer failure');
  });
  outer.use(onPaths(['/v1/thing', '/v1/fail'], inner));
  outer.use((_req, res) => {
    res.status(404).send('fallback');
  });
  outer.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).send(err.message);
  });
  return { app: outer, entered };
}

describe('onPaths', () => {
  it('enters the router for its paths and what lies under them, as Express matches them', async () => {
    const { app: server, entered } = app();
    await request(server).get('/v1/thing').expect(200, 'thing');
    await request(server).get('/v1/thing/7').expect(200, 'thing 7');
    await request(server).get('/V1/THING').expect(200, 'thing');
    await request(server).get('/v1/thing/').expect(200, 'thing');
    expect(entered).toEqual(['/v1/thing', '/v1/thing/7', '/V1/THING', '/v1/thing/']);
  });

  it('passes other paths on without entering the router', async () => {
    const { app: server, entered } = app();
    await request(server).get('/v1/things').expect(404, 'fallback');
    await request(server).get('/v1').expect(404, 'fallback');
    await request(server).get('/other/v1/thing').expect(404, 'fallback');
    expect(entered).toEqual([]);
  });

  it('leaves errors to the handlers after it, from before it and from inside', async () => {
    const { app: server, entered } = app();
    await request(server).get('/v1/before').expect(500, 'outer failure');
    await request(server).get('/v1/fail').expect(500, 'inner failure');
    expect(entered).toEqual(['/v1/fail']);
  });
});
