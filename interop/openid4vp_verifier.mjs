#!/usr/bin/env node
// npm `@openid4vc/openid4vp` 0.4.6 as an OpenID4VP verifier speaking the IT-Wallet profile,
// for verifier/tests/openid4vp_peer.rs (direction 1: the peer asks, Tessera's wallet answers).
//
//   node openid4vp_verifier.mjs CONFIG.json
//
// CONFIG: {"signing_key": private P-256 JWK (the request object key, certified by x5c[0]),
//          "x5c": [leaf, CA...] (base64 DER, no root), "issuer_jwk": the credential issuer's
//          public JWK, "vct": "...", "claims": ["given_name", ...],
//          "iss": true|false (put `iss` = client_id and `aud` = https://self-issued.me/v2 in the
//          request object, as IT-Wallet wants; false = the library's defaults: no iss, aud =
//          the request_uri)}
//
// It serves on 127.0.0.1 (a free port): GET/POST /request (the signed request object, by
// reference), POST /response (direct_post.jwt). client_id = x509_hash:<sha-256 of x5c[0]>,
// response_mode direct_post.jwt, a fresh ECDH-ES P-256 key in client_metadata, a DCQL query
// for one dc+sd-jwt credential of `vct` with `claims`. Stdout, one JSON document per line:
//   {"event":"ready","wallet_url","client_id","request_uri","response_uri","nonce","state"}
//   {"event":"fetched","method"}                           each time the request object is fetched
//   {"event":"response","accepted":true,"jarm","state","presentations":{"<query id>":[{"claims","kb"}]}}
//   {"event":"response","accepted":false,"error":"..."}
// then exits 0 (accepted) or 1 (refused); 3 when nothing came within 120 s.
//
// Validation of the response: the library decrypts (through our decryptJwe callback), checks
// `state` and parses the vp_token by Credential Query id. It does not match the presentations
// against the DCQL query (that is the separate `dcql` package) nor verify them: each
// presentation is verified here with @sd-jwt/sd-jwt-vc (issuer signature, disclosures,
// KB-JWT signature by cnf.jwk, nonce, sd_hash), and this script adds the KB-JWT `aud` (that
// library does not compare it), `vct` among vct_values, the asked claims being there, and no
// vp_token entry for a query that was not asked.
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { Openid4vpVerifier, calculateX509HashClientIdPrefixValue, parseOpenid4vpAuthorizationResponse } from '@openid4vc/openid4vp';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';
import { callbacks, emit, hash, publicOf, random, readJson } from './openid4vp_common.mjs';

if (process.argv.length !== 3) {
  process.stderr.write('usage: openid4vp_verifier.mjs CONFIG.json\n');
  process.exit(2);
}
const cfg = readJson(process.argv[2]);

const encKey = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: `enc-${random(8)}`, use: 'enc', alg: 'ECDH-ES' };
const cb = callbacks({ signingKey: cfg.signing_key, decryptionKeys: [encKey] });
const verifier = new Openid4vpVerifier({ callbacks: cb });

const clientId = `x509_hash:${await calculateX509HashClientIdPrefixValue({ x509Certificate: cfg.x5c[0], hash })}`;
const nonce = random(32);
const state = random(16);
const dcqlQuery = {
  credentials: [{ id: 'pid', format: 'dc+sd-jwt', meta: { vct_values: [cfg.vct] }, claims: cfg.claims.map((c) => ({ path: [c] })) }],
};

let request; // { payload, jwt }

async function verifyPresentation(p) {
  const sd = new SDJwtVcInstance({
    hasher: digest,
    verifier: await ES256.getVerifier(cfg.issuer_jwk),
    kbVerifier: async (data, sig, payload) => {
      if (!payload?.cnf?.jwk) throw new Error('no cnf.jwk in the SD-JWT');
      return (await ES256.getVerifier(payload.cnf.jwk))(data, sig);
    },
  });
  const res = await sd.verify(p, { keyBindingNonce: nonce, requiredClaimKeys: cfg.claims });
  if (res.kb?.payload?.aud !== clientId) throw new Error(`KB-JWT aud ${JSON.stringify(res.kb?.payload?.aud)} is not the client_id (checked here: @sd-jwt/sd-jwt-vc does not)`);
  if (!dcqlQuery.credentials[0].meta.vct_values.includes(res.payload.vct)) throw new Error(`vct ${res.payload.vct} not asked for`);
  const { _sd, _sd_alg, ...claims } = res.payload;
  return { claims, kb: res.kb.payload };
}

async function onResponse(form) {
  const parsed = await parseOpenid4vpAuthorizationResponse({
    authorizationResponse: Object.fromEntries(form),
    authorizationRequestPayload: request.payload,
    callbacks: cb,
  });
  if (parsed.type !== 'dcql') throw new Error(`expected a DCQL response, got ${parsed.type}`);
  const presentations = {};
  const asked = dcqlQuery.credentials.map((q) => q.id);
  const extra = Object.keys(parsed.dcql.presentations).filter((id) => !asked.includes(id));
  if (extra.length) throw new Error(`vp_token answers Credential Queries not asked: ${extra.join(', ')}`);
  for (const q of dcqlQuery.credentials) {
    const ps = parsed.dcql.presentations[q.id];
    if (!ps) throw new Error(`no presentation for Credential Query ${q.id}`);
    if (ps.length > 1 && !q.multiple) throw new Error(`several presentations for ${q.id}`);
    presentations[q.id] = [];
    for (const p of ps) {
      if (typeof p !== 'string') throw new Error(`presentation for ${q.id} is not a string`);
      presentations[q.id].push(await verifyPresentation(p));
    }
  }
  return { jarm: parsed.jarm?.type, state: parsed.authorizationResponsePayload.state, presentations };
}

function body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://127.0.0.1').pathname;
  const send = (status, type, text) => {
    res.writeHead(status, { 'content-type': type });
    res.end(text);
  };
  try {
    if (path === '/request' && (req.method === 'GET' || req.method === 'POST')) {
      await body(req);
      emit({ event: 'fetched', method: req.method });
      return send(200, 'application/oauth-authz-req+jwt', request.jwt);
    }
    if (path === '/response' && req.method === 'POST') {
      const form = new URLSearchParams(await body(req));
      let outcome;
      try {
        outcome = { event: 'response', accepted: true, ...(await onResponse(form)) };
        send(200, 'application/json', '{}');
      } catch (e) {
        outcome = { event: 'response', accepted: false, error: e?.message ?? String(e) };
        send(400, 'application/json', JSON.stringify({ error: 'invalid_request', error_description: outcome.error }));
      }
      emit(outcome);
      server.close();
      setImmediate(() => process.exit(outcome.accepted ? 0 : 1));
      return undefined;
    }
    return send(404, 'text/plain', 'not found');
  } catch (e) {
    process.stderr.write(`openid4vp_verifier: ${e?.stack ?? e}\n`);
    return send(500, 'text/plain', 'error');
  }
});

server.listen(0, '127.0.0.1', async () => {
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const requestUri = `${base}/request`;
    const responseUri = `${base}/response`;
    const created = await verifier.createOpenId4vpAuthorizationRequest({
      authorizationRequestPayload: {
        response_type: 'vp_token',
        client_id: clientId,
        response_uri: responseUri,
        response_mode: 'direct_post.jwt',
        nonce,
        state,
        dcql_query: dcqlQuery,
        client_metadata: {
          client_name: 'openid4vp peer verifier',
          jwks: { keys: [publicOf(encKey)] },
          encrypted_response_enc_values_supported: ['A256GCM', 'A128GCM'],
          vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
        },
      },
      jar: {
        requestUri,
        jwtSigner: { method: 'x5c', alg: 'ES256', x5c: cfg.x5c },
        expiresInSeconds: 300,
        additionalJwtPayload: cfg.iss ? { iss: clientId, aud: 'https://self-issued.me/v2' } : undefined,
      },
    });
    request = { payload: created.authorizationRequestPayload, jwt: created.jar.authorizationRequestJwt };
    emit({ event: 'ready', wallet_url: created.authorizationRequest, client_id: clientId, request_uri: requestUri, response_uri: responseUri, nonce, state });
  } catch (e) {
    process.stderr.write(`openid4vp_verifier: ${e?.stack ?? e}\n`);
    process.exit(1);
  }
});
setTimeout(() => {
  process.stderr.write('openid4vp_verifier: no response within 120 s\n');
  process.exit(3);
}, 120_000).unref();
