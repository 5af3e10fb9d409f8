"""The authorization code flow through the Python binding, against the services that
examples/loopback_federation starts: the wallet (activated first, the test playing the
browser) asks the PID provider for the PID, the browser step (a BrowserStep implemented here)
posting the test OpenID Provider's login form over HTTP as a citizen at CIE level 3; then
asks the Motorizzazione for the driving licence, which identifies the citizen by the PID
presented to it; a declined PID presentation; an issuer outside the federation refused before
anything is sent to it; calls out of order refused.

Run by mobile-bindings/tests/run.sh.
"""
import asyncio
import json
import os
import subprocess
import tempfile
import unittest
import urllib.parse
import urllib.request

from test_wallet import PyHttpClient, PyKeyStore, _browser_get, _NoRedirect, dotted, text_claims  # noqa: E402

import tessera  # noqa: E402
from tessera import (  # noqa: E402
    BrowserError, ConsentSelection, TransactionKind, Wallet, WalletConfig, WalletError,
)

MARIO = "RSSMRA80A10H501Z"


def run(coro):
    return asyncio.run(coro)


def between(page, before, after):
    return page.split(before, 1)[1].split(after, 1)[0]


class FormBrowser(tessera.BrowserStep):
    """The phone's browser, played over HTTP: follows redirects, fills the OpenID Provider's
    login form (the identity and level given, else those it preselects), and stops at the
    wallet's redirect_uri."""

    def __init__(self, fiscal_number=None, acr=None):
        self.fiscal_number, self.acr = fiscal_number, acr
        self.opened = []

    def open(self, url, redirect_uri):
        self.opened.append(url)
        opener = urllib.request.build_opener(_NoRedirect())
        for _ in range(10):
            if url.startswith(redirect_uri):
                return url
            status, location, page = _browser_get(opener, url)
            if 300 <= status < 400 and location:
                url = urllib.parse.urljoin(url, location)
            elif status == 200:
                action = between(page, '<form method="post" action="', '"').replace("&amp;", "&")
                fiscal = self.fiscal_number or between(page, 'name="fiscal_number" value="', '"')
                acr = self.acr or page.split('" selected>', 1)[0].rsplit('value="', 1)[1]
                form = urllib.parse.urlencode({"session": between(page, 'name="session" value="', '"'),
                                               "fiscal_number": fiscal, "acr": acr}).encode()
                status, location, body = _browser_get(opener, action, form)
                if not location:
                    raise BrowserError.Failed(f"login: HTTP {status}: {body[:200]}")
                url = urllib.parse.urljoin(action, location)
            else:
                raise BrowserError.Failed(f"{url}: HTTP {status}")
        raise BrowserError.Failed("too many redirects")


class ClosedBrowser(tessera.BrowserStep):
    """The citizen closes the browser."""

    def open(self, url, redirect_uri):
        raise BrowserError.Cancelled()


@unittest.skipUnless(os.environ.get("TESSERA_LOOPBACK_FEDERATION"), "TESSERA_LOOPBACK_FEDERATION not set (run tests/run.sh)")
class AuthorizationCodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([os.environ["TESSERA_LOOPBACK_FEDERATION"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        cls.fed = json.loads(cls.proc.stdout.readline())
        ta = cls.fed["trust_anchor"]
        keys = [tessera.JwkRecord(kty=k["kty"], crv=k.get("crv"), x=k.get("x"), y=k.get("y"), n=k.get("n"), e=k.get("e"), kid=k.get("kid"))
                for k in ta["jwks"]["keys"]]
        cls.anchor = tessera.TrustAnchor(entity_id=ta["entity_id"], keys=keys)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.keys = PyKeyStore()
        cls.http = PyHttpClient()
        config = WalletConfig(data_dir=cls.tmp.name, trust_anchors=[cls.anchor], locale="it", wallet_provider=cls.fed["wallet_provider"],
                              issuance_redirect_uri=cls.fed["issuance_redirect_uri"])
        cls.wallet = Wallet.open(config, cls.keys, cls.http)
        # Activated by the OpenID Provider's preselected identity.
        login = cls.wallet.start_activation(cls.fed["redirect_uri"])
        cls.info = run(cls.wallet.finish_activation(FormBrowser().open(login, cls.fed["redirect_uri"])))
        cls.pid_credential = None

    @classmethod
    def tearDownClass(cls):
        cls.proc.stdin.close()
        cls.proc.wait(timeout=10)
        cls.tmp.cleanup()

    def citizen_browser(self):
        return FormBrowser(self.fed["pid_fiscal_number"], self.fed["pid_acr"])

    def pid(self):
        """Mario Rossi's PID, asked of the PID provider once (the login in the browser)."""
        cls = type(self)
        if cls.pid_credential is None:
            session = run(self.wallet.start_issuance_from_issuer(self.fed["pid_issuer"], [self.fed["pid_configuration"]]))
            self.assertTrue(session.next_step().is_AUTHORIZE())
            out = run(session.authorize(self.citizen_browser()))
            self.assertTrue(out.is_COMPLETED() and out.outcome.is_ISSUED(), out)
            [cls.pid_credential] = out.outcome.credentials
        return cls.pid_credential

    def licence_offer(self):
        """The Motorizzazione's offer with an authorization_code grant."""
        req = urllib.request.Request(self.fed["issuer"] + "/admin/offers", method="POST",
                                     data=json.dumps({"citizen": MARIO, "grant": "authorization_code"}).encode(),
                                     headers={"Authorization": "Bearer " + self.fed["issuer_admin_token"], "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())["offer_url"]

    def test_the_pid_by_login_in_the_browser_then_the_licence_by_presenting_it(self):
        session = run(self.wallet.start_issuance_from_issuer(self.fed["pid_issuer"], [self.fed["pid_configuration"]]))
        c = session.consent()
        self.assertEqual((c.issuer_id, c.issuer_name), (self.fed["pid_issuer"], "PID Provider (loopback)"))
        self.assertTrue(c.trust.is_TRUSTED(), c.trust)
        self.assertEqual([o.configuration_id for o in c.credentials], [self.fed["pid_configuration"]])
        self.assertTrue(session.next_step().is_AUTHORIZE())
        # The citizen closes the browser: typed; the session can authorize again.
        with self.assertRaises(WalletError.UserCancelled):
            run(session.authorize(ClosedBrowser()))
        self.assertTrue(session.next_step().is_AUTHORIZE())
        browser = self.citizen_browser()
        out = run(session.authorize(browser))
        self.assertTrue(out.is_COMPLETED() and out.outcome.is_ISSUED(), out)
        self.assertTrue(browser.opened and all(u.startswith(self.fed["op"] + "/") for u in browser.opened), browser.opened)
        [pid] = out.outcome.credentials
        self.assertEqual(pid.vct, "urn:eudi:pid:it:1")
        values = text_claims(pid.claims)
        self.assertEqual((values["given_name"], values["family_name"]), ("Mario", "Rossi"))
        self.assertEqual(pid.issuer.entity_id, self.fed["pid_issuer"])
        self.assertTrue(session.next_step().is_DONE())
        with self.assertRaises(WalletError.IssuanceClosed):
            run(session.authorize(browser))
        type(self).pid_credential = pid

        # The driving licence, from the Motorizzazione's offer: it asks for the PID.
        session = run(self.wallet.start_issuance(self.licence_offer()))
        self.assertIsNone(session.consent().tx_code)
        self.assertTrue(session.next_step().is_AUTHORIZE())
        unused = FormBrowser()
        out = run(session.authorize(unused))
        self.assertTrue(out.is_PRESENT_PID(), out)
        self.assertEqual(unused.opened, [])
        rp = out.consent.relying_party
        self.assertEqual(rp.entity_id, self.fed["issuer"])
        self.assertTrue(out.consent.satisfiable)
        [request] = out.consent.requests
        # Every stored PID can answer (another test may have asked for one too).
        candidates = [cand.credential_id for cand in request.candidates]
        self.assertIn(pid.id, candidates)
        shown = {dotted(cl.path) for cl in request.candidates[candidates.index(pid.id)].claims}
        self.assertIn("tax_id_code", shown)
        self.assertEqual(out.default_choice, [ConsentSelection(query_id=request.query_id, credential_id=candidates[0])])
        step = session.next_step()
        self.assertTrue(step.is_PRESENT_PID())
        self.assertEqual(step.consent, out.consent)
        # Out of order while the PID is asked.
        with self.assertRaises(WalletError.IssuanceOutOfOrder) as e:
            run(session.accept(None))
        self.assertEqual((e.exception.call, e.exception.waiting_for), ("accept", "presentPid or declinePid"))
        self.assertEqual(e.exception.code(), "issuance_out_of_order")
        signed = self.keys.signed
        licence = run(session.present_pid([ConsentSelection(query_id=request.query_id, credential_id=pid.id)]))
        self.assertTrue(licence.is_ISSUED(), licence)
        self.assertGreater(self.keys.signed, signed)  # the KB-JWT and the key proof, signed here
        [cred] = licence.credentials
        self.assertEqual(cred.vct, "urn:eudi:mDL:it:1")
        self.assertEqual(text_claims(cred.claims)["document_number"], "RM5012345A")
        self.assertTrue(session.next_step().is_DONE())
        log = self.wallet.transactions()
        self.assertEqual([(t.kind, t.counterparty) for t in log[-2:]],
                         [(TransactionKind.PRESENTATION, self.fed["issuer"]), (TransactionKind.ISSUANCE, self.fed["issuer"])])
        self.wallet.delete_credential(cred.id)

    def test_a_declined_pid_presentation_issues_nothing(self):
        pid = self.pid()
        before = [c.id for c in self.wallet.credentials()]
        session = run(self.wallet.start_issuance_from_issuer(self.fed["issuer"], [self.fed["mdl_configuration"]]))
        out = run(session.authorize(FormBrowser()))
        self.assertTrue(out.is_PRESENT_PID())
        # A choice that does not fit: nothing sent, the step still open.
        with self.assertRaises(WalletError.InvalidChoice):
            run(session.present_pid([ConsentSelection(query_id="nope", credential_id=pid.id)]))
        self.assertTrue(session.next_step().is_PRESENT_PID())
        run(session.decline_pid())
        self.assertTrue(session.next_step().is_DONE())
        with self.assertRaises(WalletError.IssuanceClosed):
            run(session.present_pid(out.default_choice))
        self.assertEqual([c.id for c in self.wallet.credentials()], before)
        last = self.wallet.transactions()[-1]
        self.assertEqual((last.kind, last.counterparty, last.claims), (TransactionKind.DECLINED, self.fed["issuer"], []))

    def test_an_issuer_outside_the_federation_is_refused_before_anything_is_sent(self):
        outsider = self.fed["untrusted_issuer"]
        session = run(self.wallet.start_issuance_from_issuer(outsider, [self.fed["mdl_configuration"]]))
        self.assertTrue(session.consent().trust.is_UNTRUSTED())
        step = session.next_step()
        self.assertTrue(step.is_REFUSED() and step.reason, step)
        browser = FormBrowser()
        with self.assertRaises(WalletError.UntrustedIssuer) as e:
            run(session.authorize(browser))
        self.assertEqual(e.exception.issuer, outsider)
        self.assertEqual(browser.opened, [])
        asked = [u for u in self.http.urls if u.startswith(outsider)]
        self.assertTrue(asked and all("/.well-known/" in u for u in asked), asked)

    def test_calls_out_of_order_and_a_wallet_without_redirect_uri(self):
        session = run(self.wallet.start_issuance_from_issuer(self.fed["pid_issuer"], [self.fed["pid_configuration"]]))
        for call in (lambda: session.accept(None), lambda: session.present_pid([]), lambda: session.decline_pid()):
            with self.assertRaises(WalletError.IssuanceOutOfOrder) as e:
                run(call())
            self.assertEqual(e.exception.waiting_for, "authorize")
        self.assertTrue(session.next_step().is_AUTHORIZE())
        with self.assertRaises(WalletError.InvalidArgument):
            run(self.wallet.start_issuance_from_issuer(self.fed["pid_issuer"], []))
        # Without issuance_redirect_uri the flow cannot start: typed, nothing sent.
        with tempfile.TemporaryDirectory() as d:
            http = PyHttpClient()
            config = WalletConfig(data_dir=d, trust_anchors=[self.anchor], wallet_provider=self.fed["wallet_provider"])
            bare = Wallet.open(config, PyKeyStore(), http)
            run(bare.finish_activation(FormBrowser().open(bare.start_activation(self.fed["redirect_uri"]), self.fed["redirect_uri"])))
            s = run(bare.start_issuance_from_issuer(self.fed["pid_issuer"], [self.fed["pid_configuration"]]))
            with self.assertRaises(WalletError.NotConfigured):
                run(s.authorize(self.citizen_browser()))
            self.assertFalse(any("/par" in u for u in http.urls), http.urls)


if __name__ == "__main__":
    unittest.main()
