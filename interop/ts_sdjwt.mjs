#!/usr/bin/env node
// npm `@sd-jwt/sd-jwt-vc` + `@sd-jwt/crypto-nodejs` 0.19.0 behind the same command line as
// py_sdjwt.py, for Tessera's interop tests:
//
//   ts_sdjwt.mjs issue   --issuer-key K.jwk --holder-key H.pub.jwk --claims C.json --vct VCT --iss ISS
//   ts_sdjwt.mjs present --holder-key H.jwk --aud AUD --nonce N [--disclose a,b]   < issued
//   ts_sdjwt.mjs verify  --issuer-jwk K.pub.jwk --aud AUD --nonce N                < presentation
//
// Exit 0 on success, 1 with the reason on stderr. This peer emits `typ: dc+sd-jwt` by default
// (0.19.0), and its verifier does not check the KB-JWT `aud` (see README.md).
import { readFileSync } from 'node:fs';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';

const [cmd, ...rest] = process.argv.slice(2);
const args = {};
for (let i = 0; i < rest.length; i += 2) args[rest[i].replace(/^--/, '')] = rest[i + 1];
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
const stdin = () => readFileSync(0, 'utf8').trim();

async function main() {
  if (cmd === 'issue') {
    const issuerKey = readJson(args['issuer-key']);
    const holderPub = readJson(args['holder-key']);
    const claims = readJson(args.claims);
    const sd = new SDJwtVcInstance({
      signer: await ES256.getSigner(issuerKey), signAlg: 'ES256', hasher: digest, hashAlg: 'sha-256', saltGenerator: generateSalt,
    });
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: args.iss ?? 'https://issuer.peer.localhost', iat: now, exp: now + 86400, vct: args.vct, cnf: { jwk: holderPub }, ...claims };
    process.stdout.write(await sd.issue(payload, { _sd: Object.keys(claims) }) + '\n');
  } else if (cmd === 'present') {
    const holderKey = readJson(args['holder-key']);
    const sd = new SDJwtVcInstance({ hasher: digest, kbSigner: await ES256.getSigner(holderKey), kbSignAlg: 'ES256' });
    const issued = stdin();
    const keys = args.disclose ? args.disclose.split(',').filter(Boolean) : (await sd.keys(issued));
    const frame = Object.fromEntries(keys.map((k) => [k, true]));
    const kb = { payload: { iat: Math.floor(Date.now() / 1000), aud: args.aud, nonce: args.nonce } };
    process.stdout.write(await sd.present(issued, frame, { kb }) + '\n');
  } else if (cmd === 'verify') {
    const issuerPub = readJson(args['issuer-jwk']);
    const sd = new SDJwtVcInstance({
      hasher: digest,
      verifier: await ES256.getVerifier(issuerPub),
      kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
    });
    const res = await sd.verify(stdin(), args.nonce ? { keyBindingNonce: args.nonce } : undefined);
    if (args.aud && res.kb && res.kb.payload.aud !== args.aud) throw new Error('KB-JWT aud mismatch (checked by this script: the library does not)');
    process.stdout.write(JSON.stringify(res.payload) + '\n');
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
}

main().catch((e) => { process.stderr.write(`ts_sdjwt ${cmd}: ${e.message}\n`); process.exit(1); });
