#!/usr/bin/env node
// npm `@openid4vc/openid4vci` 0.4.6 (openwallet-foundation oid4vc-ts) as an OpenID4VCI wallet,
// for issuer/tests/openid4vci_peer.rs: it gets a credential from Tessera's issuer through a
// pre-authorized offer.
//
//   node openid4vci_wallet.mjs CONFIG.json
//
// CONFIG: {"offer_url": what the QR code holds (openid-credential-offer://?credential_offer=...),
//          "tx_code": the code the citizen received out of band,
//          "signed_metadata_key": null | the issuer's public JWK (given: the library gets a
//            verifyJwt callback, and then accepts the metadata as a signed JWT; it sends no
//            Accept header, so our fetch callback adds `Accept: application/jwt` to the
//            metadata request; the callback trusts this key only, as if the wallet had it
//            from the issuer's federation Entity Configuration, which the library cannot
//            resolve; null: JSON),
//          "holder_key": null | a private P-256 JWK to bind the credential to (default: a fresh
//            one), "key_attestation": null | a WUA attesting it, from a wallet provider of the
//            federation (then sent in the proof's key_attestation header),
//          "client_attestation": null | a WAA (oauth-client-attestation+jwt) from the wallet
//            provider, "client_key": its cnf key (private JWK): then the token request carries
//            OAuth-Client-Attestation and its PoP (the library's attest_jwt_client_auth), and
//            the proof's `iss` is the WAA's `sub` (the client id),
//          "key_attestation_workaround": false | true (build the proof JWT in this script, the
//            same header and claims the library would, signed by the same callback: the
//            library refuses a key attestation whose header has both `trust_chain` and `kid`,
//            which IT-Wallet's WUA has; a workaround, reported),
//          "ignore_key_attestations_required": false | true (drop key_attestations_required
//            from the library's copy of the metadata, so that it sends a proof without a
//            key attestation where it would otherwise refuse to make one: the issuer's refusal
//            is then what the test sees)}
//
// Steps, each with the library: resolve the offer (by value); resolve the issuer metadata and
// the authorization server metadata (/.well-known/...); the token request with the
// pre-authorized code and tx_code, DPoP-bound (a fresh P-256 DPoP key; no client
// authentication: anonymous access, unless a WAA is given); a c_nonce from the nonce endpoint; a proof JWT
// (openid4vci-proof+jwt, its own P-256 key in `jwk`, key_attestation only when given, no iss);
// the credential request (credential_configuration_id, proofs.jwt, DPoP with the token's
// `ath`); then the notification credential_accepted. The library has no JOSE of its own: the
// callbacks sign with `jose` (openid4vp_common.mjs's helpers).
// Stdout, one JSON document per line:
//   {"event":"metadata","signed","credential_issuer","draft","configurations","key_attestations_required","token_endpoint","dpop_algs"}
//   {"event":"token","client_id","token_type","dpop_bound","authorization_details"}
//   {"event":"key_attestation_workaround"}        when the proof was built by the script
//   {"event":"credential","configuration_id","credential","holder_jwk","notification_id"}
//   {"event":"notified","status"}
//   {"event":"error","stage","error","error_response"}   on any failure (exit 1)
// Exit 0 when a credential came back, 1 otherwise (the reason on stderr), 2 on usage.
import { CompactSign, compactVerify, exportJWK, generateKeyPair, importJWK } from 'jose';
import { clientAuthenticationAnonymous, clientAuthenticationClientAttestationJwt, decodeJwt } from '@openid4vc/oauth2';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { emit, hash, publicOf, readJson } from './openid4vp_common.mjs';
import { randomBytes } from 'node:crypto';

if (process.argv.length !== 3) {
  process.stderr.write('usage: openid4vci_wallet.mjs CONFIG.json\n');
  process.exit(2);
}
const cfg = readJson(process.argv[2]);

/** A fresh P-256 key: the private JWK, and the library's `jwk` signer for it. */
async function freshKey() {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { jwk, signer: { method: 'jwk', alg: 'ES256', publicJwk: publicOf(jwk) } };
}

const dpopKey = await freshKey();
const holderKey = cfg.holder_key
  ? { jwk: cfg.holder_key, signer: { method: 'jwk', alg: 'ES256', publicJwk: publicOf(cfg.holder_key) } }
  : await freshKey();
const keys = [dpopKey.jwk, holderKey.jwk, ...(cfg.client_key ? [cfg.client_key] : [])];
// The client id: the WAA's `sub` when the wallet is attested, none (anonymous) otherwise.
const clientId = cfg.client_attestation ? decodeJwt({ jwt: cfg.client_attestation }).payload.sub : undefined;

// The callbacks the wallet side needs. signJwt signs with whichever of our keys the signer
// names; verifyJwt only with signed_metadata_key (the library then sends Accept:
// application/jwt first): our header carries only a `kid`, which the library hands over as a
// `custom` signer.
const callbacks = {
  hash,
  generateRandom: (n) => new Uint8Array(randomBytes(n)),
  fetch: (url, init = {}) => {
    if (cfg.signed_metadata_key && String(url).includes('/.well-known/openid-credential-issuer')) {
      const headers = new Headers(init.headers);
      headers.set('Accept', 'application/jwt');
      return fetch(url, { ...init, headers });
    }
    return fetch(url, init);
  },
  clientAuthentication: cfg.client_attestation
    ? (o) => clientAuthenticationClientAttestationJwt({ clientAttestationJwt: cfg.client_attestation, callbacks })(o)
    : clientAuthenticationAnonymous(),
  async signJwt(signer, { header, payload }) {
    const key = keys.find((k) => signer.method === 'jwk' && k.x === signer.publicJwk.x && k.y === signer.publicJwk.y);
    if (!key) throw new Error(`no private key for signer ${signer.method}`);
    const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header).sign(await importJWK(key, header.alg));
    return { jwt, signerJwk: publicOf(key) };
  },
  ...(cfg.signed_metadata_key
    ? {
        async verifyJwt(signer, { header, compact }) {
          // The header names the key by `kid` and carries our `x5c` (the peer then reports
          // the signer as `x5c`); either way the configured issuer key is what verifies it.
          const key = cfg.signed_metadata_key;
          if (!['custom', 'x5c'].includes(signer.method) || (key.kid && signer.kid && signer.kid !== key.kid)) {
            throw new Error(`signed metadata: signer ${signer.method} (kid ${signer.kid}) is not the configured issuer key`);
          }
          try {
            await compactVerify(compact, await importJWK(key, header.alg));
            return { verified: true, signerJwk: key };
          } catch {
            return { verified: false, signerJwk: key };
          }
        },
      }
    : {}),
};
const client = new Openid4vciClient({ callbacks });

/** The library's error, its HTTP error body when it has one. */
function describe(e) {
  return e?.message ?? String(e);
}
function errorBody(e) {
  return e?.errorResponse ?? null;
}

let stage = 'offer';
async function main() {
  const offer = await client.resolveCredentialOffer(cfg.offer_url);
  stage = 'metadata';
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  const configurationId = offer.credential_configuration_ids[0];
  const configuration = issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId];
  const as = issuerMetadata.authorizationServers[0];
  emit({
    event: 'metadata',
    signed: Boolean(issuerMetadata.signedCredentialIssuer),
    credential_issuer: issuerMetadata.credentialIssuer.credential_issuer,
    draft: issuerMetadata.originalDraftVersion,
    configurations: Object.keys(issuerMetadata.credentialIssuer.credential_configurations_supported),
    key_attestations_required: configuration?.proof_types_supported?.jwt?.key_attestations_required ?? null,
    token_endpoint: as?.token_endpoint,
    dpop_algs: as?.dpop_signing_alg_values_supported ?? null,
  });
  if (cfg.ignore_key_attestations_required && configuration?.proof_types_supported?.jwt) {
    delete configuration.proof_types_supported.jwt.key_attestations_required;
  }

  stage = 'token';
  const token = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata,
    txCode: cfg.tx_code,
    dpop: { signer: dpopKey.signer },
  });
  const tr = token.accessTokenResponse;
  emit({ event: 'token', client_id: clientId ?? null, token_type: tr.token_type, dpop_bound: tr.token_type === 'DPoP', authorization_details: tr.authorization_details ?? null });

  stage = 'nonce';
  const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata });

  stage = 'proof';
  let proof;
  if (cfg.key_attestation && cfg.key_attestation_workaround) {
    const header = { alg: 'ES256', typ: 'openid4vci-proof+jwt', jwk: holderKey.signer.publicJwk, key_attestation: cfg.key_attestation };
    const payload = { ...(clientId ? { iss: clientId } : {}), aud: issuerMetadata.credentialIssuer.credential_issuer, iat: Math.floor(Date.now() / 1000), nonce };
    ({ jwt: proof } = await callbacks.signJwt(holderKey.signer, { header, payload }));
    emit({ event: 'key_attestation_workaround' });
  } else {
    ({ jwt: proof } = await client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      signer: holderKey.signer,
      nonce,
      issuedAt: new Date(),
      keyAttestationJwt: cfg.key_attestation ?? undefined,
      clientId,
    }));
  }

  stage = 'credential';
  const dpop = { signer: dpopKey.signer, nonce: token.dpop?.nonce };
  let response;
  try {
    response = await client.retrieveCredentials({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      proofs: { jwt: [proof] },
      accessToken: tr.access_token,
      dpop,
    });
  } catch (e) {
    // Openid4vciRetrieveCredentialsError: the response and its parsed error body.
    const r = e?.response;
    emit({ event: 'error', stage, error: describe(e), status: r?.response?.status ?? null, error_response: r?.credentialErrorResponseResult?.data ?? null });
    process.stderr.write(`openid4vci_wallet: ${stage}: ${describe(e)}\n`);
    process.exit(1);
  }
  const cr = response.credentialResponse;
  const credential = cr.credentials?.[0]?.credential;
  if (typeof credential !== 'string') throw new Error(`no credential in the response: ${JSON.stringify(cr)}`);
  emit({ event: 'credential', configuration_id: configurationId, credential, count: cr.credentials.length, holder_jwk: holderKey.signer.publicJwk, notification_id: cr.notification_id ?? null });

  if (cr.notification_id) {
    stage = 'notification';
    const n = await client.sendNotification({
      issuerMetadata,
      notification: { notificationId: cr.notification_id, event: 'credential_accepted' },
      accessToken: tr.access_token,
      dpop: { signer: dpopKey.signer, nonce: response.dpop?.nonce ?? dpop.nonce },
    });
    emit({ event: 'notified', status: n.response.status });
  }
}

try {
  await main();
} catch (e) {
  emit({ event: 'error', stage, error: describe(e), error_response: errorBody(e) });
  process.stderr.write(`openid4vci_wallet: ${stage}: ${describe(e)}\n`);
  process.exit(1);
}
