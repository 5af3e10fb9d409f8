#!/usr/bin/env node
// npm `@sd-jwt/sd-jwt-vc` + `@sd-jwt/crypto-nodejs` 0.19.0 behind the same command line as
// py_sdjwt.py, for Tessera's interop tests (installed by interop/setup.sh; run with `node`):
//
//   ts_sdjwt.mjs keygen  --out K                       writes K.jwk (private) and K.pub.jwk (P-256)
//   ts_sdjwt.mjs issue   --issuer-key K.jwk --holder-key H.pub.jwk --claims C.json --vct VCT [--iss ISS]
//   ts_sdjwt.mjs present --holder-key H.jwk --aud AUD --nonce N [--disclose a,b]   < issued
//   ts_sdjwt.mjs verify  --issuer-jwk K.pub.jwk [--aud AUD --nonce N]            < presentation
//
// Same semantics as py_sdjwt.py: every top-level claim of C.json selectively disclosable; iss,
// iat, exp (+1 day), vct, cnf.jwk in the clear; `present` without --disclose discloses all;
// `verify` prints the processed claims as one JSON object, and without --aud/--nonce does not
// look at the KB-JWT. Exit 0 on success, 1 with the reason on stderr (2 on a usage error).
//
// typ: SDJwtVcInstance in 0.19.0 sets `typ: "dc+sd-jwt"` itself (its `type` field; older
// releases used "vc+sd-jwt"). We still pass it explicitly in the issue header so that an
// upgrade cannot silently change it; `omitTyp: true` would drop it.
//
// The library's verifier does not check the KB-JWT `aud` (only its presence): this wrapper
// compares it to --aud itself, since --aud is part of the command-line contract. It adds no
// other check (the SD-JWT `typ` and the KB-JWT `iat` freshness stay unchecked). See README.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';

const OPTIONS = {
  keygen: { required: ['out'], optional: [] },
  issue: { required: ['issuer-key', 'holder-key', 'claims', 'vct'], optional: ['iss'] },
  present: { required: ['holder-key', 'aud', 'nonce'], optional: ['disclose'] },
  verify: { required: ['issuer-jwk'], optional: ['aud', 'nonce'] },
};

function usage(msg) {
  process.stderr.write(`ts_sdjwt: ${msg}\nusage: ts_sdjwt.mjs {${Object.keys(OPTIONS).join('|')}} --option value ...\n`);
  process.exit(2);
}

const cmd = process.argv[2];
if (!OPTIONS[cmd]) usage(`unknown command ${cmd ?? '(none)'}`);
let args;
try {
  const spec = Object.fromEntries([...OPTIONS[cmd].required, ...OPTIONS[cmd].optional].map((o) => [o, { type: 'string' }]));
  args = parseArgs({ args: process.argv.slice(3), options: spec, strict: true, allowPositionals: false }).values;
} catch (e) {
  usage(e.message);
}
for (const o of OPTIONS[cmd].required) if (args[o] === undefined) usage(`${cmd}: --${o} is required`);

const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
const now = () => Math.floor(Date.now() / 1000);
function stdin() {
  const s = readFileSync(0, 'utf8').trim();
  if (!s) throw new Error('empty input on stdin');
  return s;
}

async function keygen() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(`${args.out}.jwk`, JSON.stringify(privateKey.export({ format: 'jwk' })));
  writeFileSync(`${args.out}.pub.jwk`, JSON.stringify(publicKey.export({ format: 'jwk' })));
}

async function issue() {
  const issuerKey = readJson(args['issuer-key']);
  const holderPub = readJson(args['holder-key']);
  delete holderPub.d; // never put a private part in cnf, whatever file we were given
  const claims = readJson(args.claims);
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new Error('claims file must hold a JSON object');
  const sd = new SDJwtVcInstance({
    signer: await ES256.getSigner(issuerKey),
    signAlg: 'ES256',
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator: generateSalt,
  });
  const iat = now();
  const payload = { iss: args.iss ?? 'https://issuer.peer.localhost', iat, exp: iat + 86400, vct: args.vct, cnf: { jwk: holderPub }, ...claims };
  // The disclosure frame {_sd: [names]} makes those top-level claims selectively disclosable.
  // (The library refuses to make iss, nbf, exp, cnf, vct or status disclosable.)
  const issued = await sd.issue(payload, { _sd: Object.keys(claims) }, { header: { typ: 'dc+sd-jwt' } });
  process.stdout.write(`${issued}\n`);
}

async function present() {
  const holderKey = readJson(args['holder-key']);
  const sd = new SDJwtVcInstance({ hasher: digest, kbSigner: await ES256.getSigner(holderKey), kbSignAlg: 'ES256' });
  const issued = stdin();
  const names = args.disclose ? args.disclose.split(',').filter(Boolean) : await sd.presentableKeys(issued);
  // The holder selects disclosures with a presentation frame {name: true}.
  const frame = Object.fromEntries(names.map((k) => [k, true]));
  const kb = { payload: { iat: now(), aud: args.aud, nonce: args.nonce } }; // the library adds sd_hash
  process.stdout.write(`${await sd.present(issued, frame, { kb })}\n`);
}

async function verify() {
  if (!args.aud !== !args.nonce) throw new Error('give both --aud and --nonce, or neither');
  const sd = new SDJwtVcInstance({
    hasher: digest,
    verifier: await ES256.getVerifier(readJson(args['issuer-jwk'])),
    // The KB-JWT is checked against the cnf.jwk of the (verified, processed) payload.
    kbVerifier: async (data, sig, payload) => {
      if (!payload?.cnf?.jwk) throw new Error('no cnf.jwk in the SD-JWT');
      return (await ES256.getVerifier(payload.cnf.jwk))(data, sig);
    },
  });
  const res = await sd.verify(stdin(), args.nonce ? { keyBindingNonce: args.nonce } : undefined);
  if (args.aud && res.kb?.payload?.aud !== args.aud) {
    throw new Error(`KB-JWT aud ${JSON.stringify(res.kb?.payload?.aud)} is not ${JSON.stringify(args.aud)} (checked by this wrapper: the library does not)`);
  }
  process.stdout.write(`${JSON.stringify(res.payload)}\n`);
}

({ keygen, issue, present, verify })[cmd]().catch((e) => {
  process.stderr.write(`ts_sdjwt ${cmd}: ${e?.message ?? e}\n`);
  process.exit(1);
});
