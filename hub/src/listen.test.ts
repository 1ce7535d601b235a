import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import {
  checkListenAddress,
  checkListenAddresses,
  ListenAddressError,
  listenError,
} from './listen.ts';

describe('listen addresses', () => {
  it('names the flag and the reason, from a socket error code or a wrapped message', () => {
    const socket = Object.assign(new Error('listen EADDRINUSE: address already in use'), {
      code: 'EADDRINUSE',
    });
    assert.equal(
      listenError('--http-address', '127.0.0.1:7080', socket).message,
      '--http-address 127.0.0.1:7080: address already in use',
    );
    const grpc = new Error(
      'gRPC listen on 0.0.0.0:7443: No address added out of total 1 resolved errors: [listen EACCES: permission denied 0.0.0.0:7443]',
    );
    assert.equal(
      listenError('--grpc-address', '0.0.0.0:7443', grpc).message,
      '--grpc-address 0.0.0.0:7443: permission denied (ports below 1024 need privileges)',
    );
    assert.equal(
      listenError('--grpc-address', 'x', new Error('something else')).message,
      '--grpc-address x: something else',
    );
  });

  it('refuses a taken port and lets a free one or port 0 pass', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, r));
    const taken = `127.0.0.1:${(holder.address() as AddressInfo).port}`;
    try {
      await assert.rejects(
        checkListenAddress('--http-address', taken),
        (e: unknown) =>
          e instanceof ListenAddressError &&
          e.message === `--http-address ${taken}: address already in use`,
      );
      await checkListenAddress('--http-address', '127.0.0.1:0');
    } finally {
      await new Promise((r) => holder.close(r));
    }
    await checkListenAddress('--http-address', taken);
  });

  it('refuses two flags on the same port before binding either', async () => {
    await assert.rejects(
      checkListenAddresses([
        { flag: '--grpc-address', address: '0.0.0.0:7443' },
        { flag: '--http-address', address: '127.0.0.1:7443' },
      ]),
      /^ListenAddressError: --http-address 127.0.0.1:7443: the same port as --grpc-address 0.0.0.0:7443$/,
    );
    await checkListenAddresses([
      { flag: '--grpc-address', address: '127.0.0.1:0' },
      { flag: '--http-address', address: '127.0.0.1:0' },
    ]);
  });
});
