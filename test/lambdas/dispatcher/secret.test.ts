import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { getParameter, getSecretString, signV4 } from '../../../lambdas/dispatcher/secret';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session/token+1',
};
const smithy = new SignatureV4({
  service: 'secretsmanager',
  region: 'eu-west-1',
  credentials,
  sha256: Sha256,
  applyChecksum: false,
});

/** The AWS SDK's own signer, as the reference the hand-written one must agree with. */
async function smithyAuthorization(
  host: string,
  headers: Record<string, string>,
  body: string,
  at: Date,
): Promise<string> {
  const signed = await smithy.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: host.split(':')[0],
      port: Number(host.split(':')[1]) || undefined,
      path: '/',
      query: {},
      headers: { ...headers, host },
      body,
    },
    { signingDate: at },
  );
  return String(signed.headers.authorization);
}

describe("reading the state store user's secret from Secrets Manager without the SDK", () => {
  test('signs exactly as the AWS SDK signs (Signature Version 4)', async () => {
    const at = new Date('2026-03-01T12:34:56.789Z');
    const headers = { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'secretsmanager.GetSecretValue' };
    const body = JSON.stringify({ SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:strata-auth' });
    const ours = signV4(
      { method: 'POST', host: 'secretsmanager.eu-west-1.amazonaws.com', path: '/', body, headers },
      { service: 'secretsmanager', region: 'eu-west-1', ...credentials },
      at,
    );
    expect(ours['x-amz-date']).toBe('20260301T123456Z');
    expect(ours['x-amz-security-token']).toBe(credentials.sessionToken);
    const reference = await smithyAuthorization(
      'secretsmanager.eu-west-1.amazonaws.com',
      {
        'x-amz-date': ours['x-amz-date'],
        'x-amz-security-token': credentials.sessionToken,
        'content-type': headers['Content-Type'],
        'x-amz-target': headers['X-Amz-Target'],
      },
      body,
      at,
    );
    expect(ours.authorization).toBe(reference);
  });

  test('one signed GetSecretValue to the endpoint; the answer is the secret string, a refusal an error naming the secret', async () => {
    const received: { target?: string; valid?: boolean }[] = [];
    const server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString();
      const headers = Object.fromEntries(
        ['content-type', 'x-amz-target', 'x-amz-date', 'x-amz-security-token'].map((h) => [h, String(req.headers[h])]),
      );
      const at = new Date(
        headers['x-amz-date'].replace(/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/, '$1-$2-$3T$4:$5:$6Z'),
      );
      const valid =
        (await smithyAuthorization(String(req.headers.host), headers, body, at)) === req.headers.authorization;
      received.push({ target: headers['x-amz-target'], valid });
      const { SecretId } = JSON.parse(body) as { SecretId: string };
      if (!valid || SecretId !== 'the-arn')
        res
          .writeHead(400)
          .end(
            JSON.stringify({ message: valid ? 'Secrets Manager can’t find the specified secret.' : 'bad signature' }),
          );
      else
        res
          .writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
          .end(JSON.stringify({ SecretString: '{"token":"t0k"}' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const env = {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SESSION_TOKEN: credentials.sessionToken,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    };
    try {
      expect(await getSecretString('the-arn', env)).toBe('{"token":"t0k"}');
      await expect(getSecretString('other-arn', env)).rejects.toThrow(
        /Secrets Manager answered 400 for other-arn: .*can’t find/,
      );
      await expect(getSecretString('the-arn', { ...env, AWS_ACCESS_KEY_ID: undefined })).rejects.toThrow(
        'AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set',
      );
      expect(received).toEqual([
        { target: 'secretsmanager.GetSecretValue', valid: true },
        { target: 'secretsmanager.GetSecretValue', valid: true },
      ]);
    } finally {
      server.close();
    }
  });
});

describe('getParameter', () => {
  test('one signed GetParameter to SSM: the value and its version; a missing parameter is undefined', async () => {
    const received: { target: string; scope: string; name: string }[] = [];
    const server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const { Name } = JSON.parse(Buffer.concat(chunks).toString()) as { Name: string };
      const scope = /Credential=[^/]+\/\d{8}\/([^/]+\/[^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? '';
      received.push({ target: String(req.headers['x-amz-target']), scope, name: Name });
      if (Name === '/strata/policy')
        res.writeHead(200).end(JSON.stringify({ Parameter: { Value: '{"version":1}', Version: 4 } }));
      else res.writeHead(400).end(JSON.stringify({ __type: 'ParameterNotFound' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const env = {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    };
    try {
      expect(await getParameter('/strata/policy', env)).toEqual({ value: '{"version":1}', version: 4 });
      expect(await getParameter('/strata/nothing', env)).toBeUndefined();
      expect(received).toEqual([
        { target: 'AmazonSSM.GetParameter', scope: 'eu-west-1/ssm', name: '/strata/policy' },
        { target: 'AmazonSSM.GetParameter', scope: 'eu-west-1/ssm', name: '/strata/nothing' },
      ]);
    } finally {
      server.close();
    }
  });
});
