#!/usr/bin/env node
// Resolve and validate an OpenID Federation trust chain with npm `@openid-federation/core`
// 0.2.1 (openwallet-foundation-labs/openid-federation-ts; installed by interop/setup.sh):
//
//   node interop/fed_openid_federation.mjs LEAF_ENTITY_ID TRUST_ANCHOR_ENTITY_ID
//
// It runs the library's `resolveTrustChains({entityId, trustAnchorEntityIds, verifyJwtCallback})`:
// it fetches the leaf's Entity Configuration, walks `authority_hints` up to the trust anchor,
// fetches the Subordinate Statements from each superior's `federation_fetch_endpoint`, checks
// the statements' schema and `exp`, calls back for every signature, merges the
// `metadata_policy` of every level and applies it to the leaf's metadata.
//
// The library leaves the cryptography to its caller: `verifyJwtCallback({header, jwk, data,
// signature})` below verifies one JWS signature (ES256/384/512, PS*, RS*, EdDSA by the header
// `alg`, with node:crypto) with the key the library picked (the issuer's, by `kid`). It records
// every verification so that the output shows which key checked which statement.
//
// On success (exit 0) it prints one JSON document:
//   {"peer": "@openid-federation/core", "version": "...", "valid": true,
//    "chains": N,                               # chains found to this trust anchor
//    "chain": [{"iss", "sub", "iat", "exp"}, ...],  # leaf EC, Subordinate Statements, TA EC
//    "exp": <minimum exp over the chain>,
//    "trust_anchor_jwks": {...}, "trust_anchor_constraints": {...} | null,
//    "verified": [{"iss", "sub", "kid", "alg"}, ...],   # every signature it had verified
//    "metadata": {...}}                         # resolvedLeafMetadata (policies applied)
// On refusal it prints {"peer", "valid": false, "error"} on stdout, the reason on stderr, and
// exits 1; a usage error exits 2.
//
// Quirks of the peer this driver handles (see README.md, "Federation interop"):
// - resolveTrustChains swallows every error (a superior that fails is dropped by
//   Promise.allSettled, a chain with an expired statement or a policy error is `continue`d) and
//   returns an empty list. To say *why*, the driver then repeats the steps with the library's
//   own exported functions (fetchEntityConfiguration, fetchEntityStatementChain,
//   combineMetadataPolicies, applyMetadataPolicyToMetadata) and reports the first error. This
//   is diagnostics only: the verdict is resolveTrustChains'.
// - plain http on loopback needs nothing: the library uses the global fetch and accepts any
//   scheme (resolveTrustChains takes no fetchCallback, so no custom fetch either).
// It adds no check of its own: in particular it does not pin the trust anchor's keys nor check
// the leaf's key against its superior's statement (the library does neither).
import { readFileSync } from 'node:fs';
import { constants, createPublicKey, verify } from 'node:crypto';
import {
  applyMetadataPolicyToMetadata,
  combineMetadataPolicies,
  fetchEntityConfiguration,
  fetchEntityStatementChain,
  resolveTrustChains,
} from '@openid-federation/core';

const PEER = '@openid-federation/core';

function fail(msg, code = 1) {
  process.stderr.write(`fed_openid_federation.mjs: ${msg}\n`);
  process.stdout.write(`${JSON.stringify({ peer: PEER, valid: false, error: msg })}\n`);
  process.exit(code);
}

const positionals = process.argv.slice(2);
if (positionals.length !== 2 || positionals.some((a) => a.startsWith('-'))) {
  fail('usage: fed_openid_federation.mjs LEAF_ENTITY_ID TRUST_ANCHOR_ENTITY_ID', 2);
}
const [leaf, trustAnchor] = positionals;

const version = JSON.parse(
  readFileSync(new URL('./node_modules/@openid-federation/core/package.json', import.meta.url), 'utf8'),
).version;

// JWS `alg` → node:crypto digest and options.
const ALGS = {
  ES256: { hash: 'sha256', dsaEncoding: 'ieee-p1363' },
  ES384: { hash: 'sha384', dsaEncoding: 'ieee-p1363' },
  ES512: { hash: 'sha512', dsaEncoding: 'ieee-p1363' },
  PS256: { hash: 'sha256', pss: true },
  PS384: { hash: 'sha384', pss: true },
  PS512: { hash: 'sha512', pss: true },
  RS256: { hash: 'sha256' },
  RS384: { hash: 'sha384' },
  RS512: { hash: 'sha512' },
  EdDSA: { hash: null },
};

const verified = [];
async function verifyJwtCallback({ header, claims, jwk, data, signature }) {
  const a = ALGS[header.alg];
  if (!a) throw new Error(`unsupported JWS alg ${JSON.stringify(header.alg)}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const opts = { key };
  if (a.dsaEncoding) opts.dsaEncoding = a.dsaEncoding;
  if (a.pss) Object.assign(opts, { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  const ok = verify(a.hash, data, opts, signature);
  if (ok) verified.push({ iss: claims.iss, sub: claims.sub, kid: jwk.kid, alg: header.alg });
  return ok;
}

const secs = (d) => Math.floor(new Date(d).getTime() / 1000);

// The reason behind an empty resolveTrustChains result (see the header comment).
// Errors come wrapped (OpenIdFederationError → OpenIdFederationError → ZodError): follow `cause`.
function describe(e) {
  const parts = [];
  for (let c = e, depth = 0; c && depth < 5; c = c.cause, depth++) {
    if (Array.isArray(c.issues)) {
      parts.push(JSON.stringify(c.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))));
    } else {
      parts.push(`${c.name ?? 'Error'}: ${c.message ?? c}${c.details ? ` ${JSON.stringify(c.details)}` : ''}`);
    }
  }
  return parts.join(' <- ');
}

async function diagnose() {
  // Depth-first along authority_hints, as the library walks them.
  const paths = [];
  const errors = [];
  const walk = async (id, path) => {
    let ec;
    try {
      ec = await fetchEntityConfiguration({ entityId: id, verifyJwtCallback });
    } catch (e) {
      errors.push(`Entity Configuration of ${id}: ${describe(e)}`);
      return;
    }
    const here = [...path, ec];
    if (ec.sub === trustAnchor) paths.push(here);
    for (const hint of ec.authority_hints ?? []) {
      if (!here.some((c) => c.sub === hint)) await walk(hint, here);
    }
  };
  await walk(leaf, []);
  if (paths.length === 0) return errors.length ? errors.join('; ') : `no authority_hints path from ${leaf} to ${trustAnchor}`;
  for (const configurations of paths) {
    let chain;
    try {
      chain = await fetchEntityStatementChain({ entityConfigurations: configurations, verifyJwtCallback });
    } catch (e) {
      errors.push(`Subordinate Statements: ${describe(e)}`);
      continue;
    }
    const expired = chain.filter((s) => new Date(s.exp) < new Date());
    if (expired.length) {
      errors.push(`expired: ${expired.map((s) => `${s.iss} about ${s.sub}`).join(', ')}`);
      continue;
    }
    if (chain.length === 1) continue;
    let merged;
    try {
      merged = combineMetadataPolicies({ statements: chain.slice(0, -1) }).mergedPolicy;
    } catch (e) {
      errors.push(`merging metadata_policy: ${describe(e)}`);
      continue;
    }
    try {
      applyMetadataPolicyToMetadata({ leafMetadata: configurations[0].metadata ?? {}, policyMetadata: merged });
    } catch (e) {
      errors.push(`applying metadata_policy: ${describe(e)}`);
    }
  }
  return errors.length ? errors.join('; ') : 'unknown reason (the steps pass one by one)';
}

let chains;
try {
  chains = await resolveTrustChains({ entityId: leaf, trustAnchorEntityIds: [trustAnchor], verifyJwtCallback });
} catch (e) {
  // It throws (instead of skipping) only for the leaf's own Entity Configuration.
  fail(`chain refused: resolveTrustChains threw ${describe(e)}`);
}
const found = chains.filter((c) => c.valid && c.trustAnchorEntityConfiguration?.sub === trustAnchor);
if (found.length === 0) {
  fail(`chain refused: resolveTrustChains found no chain to ${trustAnchor} (${await diagnose()})`);
}
const { chain, trustAnchorEntityConfiguration: ta, rawLeafEntityConfiguration: leafEc, resolvedLeafMetadata } = found[0];
// The library's `chain` is the Subordinate Statements and the TA EC; its leaf EC comes apart.
const links = [leafEc, ...chain].map((s) => ({ iss: s.iss, sub: s.sub, iat: secs(s.iat), exp: secs(s.exp) }));
process.stdout.write(
  `${JSON.stringify({
    peer: PEER,
    version,
    valid: true,
    chains: found.length,
    chain: links,
    exp: Math.min(...links.map((l) => l.exp)),
    trust_anchor_jwks: ta.jwks,
    trust_anchor_constraints: ta.constraints ?? null,
    verified,
    // The library hands back immutable proxies: JSON round-trip to plain data.
    metadata: JSON.parse(JSON.stringify(resolvedLeafMetadata ?? {})),
  })}\n`,
);
