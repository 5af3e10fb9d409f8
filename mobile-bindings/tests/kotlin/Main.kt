// The wallet through the Kotlin binding on the JVM, with a KeyStore implemented here on
// java.security (EC P-256, DER signatures converted to raw r||s as an Android app does).
// A plain program (no test framework on this machine): each check throws on failure and
// the process exits non-zero. Args: the generated tessera.kt (for the checksum check).

import com.sun.jna.NativeLibrary
import java.io.File
import java.math.BigInteger
import java.nio.file.Files
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import java.util.Base64
import kotlinx.coroutines.runBlocking
import uniffi.tessera.*

var checks = 0

fun check(cond: Boolean, what: String) {
    if (!cond) throw AssertionError("FAILED: $what")
    checks++
    println("ok - $what")
}

inline fun <reified E : Throwable> assertThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) {
            check(true, what)
            return e
        }
        throw AssertionError("FAILED: $what: got ${e::class.qualifiedName}: ${e.message}")
    }
    throw AssertionError("FAILED: $what: nothing thrown")
}

/** 32-byte big-endian, as the SEC1 point and raw r||s want. */
fun fixed32(n: BigInteger): ByteArray {
    val b = n.toByteArray()
    return when {
        b.size == 32 -> b
        b.size > 32 -> b.copyOfRange(b.size - 32, b.size) // sign byte
        else -> ByteArray(32 - b.size) + b
    }
}

/** DER SEQUENCE { INTEGER r, INTEGER s } to raw r||s. */
fun derToRaw(der: ByteArray): ByteArray {
    require(der[0] == 0x30.toByte()) { "not a DER sequence" }
    var i = 2
    fun int(): BigInteger {
        require(der[i] == 0x02.toByte()) { "not an INTEGER" }
        val len = der[i + 1].toInt()
        val v = BigInteger(1, der.copyOfRange(i + 2, i + 2 + len))
        i += 2 + len
        return v
    }
    return fixed32(int()) + fixed32(int())
}

class JvmKeyStore : KeyStore {
    val keys = HashMap<String, KeyPair>()
    var cancelNext = false

    override fun generateKey(tag: String): ByteArray {
        val g = KeyPairGenerator.getInstance("EC")
        g.initialize(ECGenParameterSpec("secp256r1"))
        keys[tag] = g.generateKeyPair()
        return publicKey(tag)
    }

    override fun publicKey(tag: String): ByteArray {
        val pub = (keys[tag] ?: throw KeyStoreException.KeyNotFound(tag)).public as ECPublicKey
        return byteArrayOf(4) + fixed32(pub.w.affineX) + fixed32(pub.w.affineY)
    }

    override fun sign(tag: String, message: ByteArray): ByteArray {
        val kp = keys[tag] ?: throw KeyStoreException.KeyNotFound(tag)
        if (cancelNext) {
            cancelNext = false
            throw KeyStoreException.UserCancelled()
        }
        val s = Signature.getInstance("SHA256withECDSA")
        s.initSign(kp.private)
        s.update(message)
        return derToRaw(s.sign())
    }

    override fun keyAttestation(tag: String, challenge: ByteArray): String =
        throw KeyStoreException.Unsupported("no attestation on the JVM")

    override fun deleteKey(tag: String) {
        keys.remove(tag)
    }
}

fun key(name: String) = PathElement.Key(name)
fun path(vararg els: PathElement) = ClaimPath(els.toList())
fun dotted(p: ClaimPath) = p.elements.joinToString(".") { if (it is PathElement.Key) it.name else (it as PathElement.Index).index.toString() }
fun texts(claims: List<Claim>) = claims.mapNotNull { c -> (c.value as? ClaimValue.Text)?.let { dotted(c.path) to it.value } }.toMap()

/**
 * uniffi 0.32 checksums: the generated code compares each function's checksum with the
 * library's when it loads (IntegrityCheckingUniffiLib); uniffi 0.31.2 broke exactly this on
 * Android. Check it independently: every checksum constant written in the generated file
 * equals what the built library returns, called through JNA by name.
 */
fun checkChecksums(generated: File) {
    val re = Regex("""lib\.(uniffi_tessera_mobile_checksum_\w+)\(\) and 0xFFFF\) != (\d+)""")
    val expected = re.findAll(generated.readText()).map { it.groupValues[1] to it.groupValues[2].toInt() }.toList()
    check(expected.size >= 20, "the generated Kotlin checks ${expected.size} API checksums")
    val lib = NativeLibrary.getInstance("tessera_mobile")
    val wrong = expected.filter { (name, sum) -> (lib.getFunction(name).invokeInt(arrayOf()) and 0xFFFF) != sum }
    check(wrong.isEmpty(), "every checksum matches the library (mismatched: $wrong)")
    check(generated.readText().contains("UniFFI API checksum mismatch"), "the generated code refuses a mismatched library")
}

fun main(args: Array<String>) {
    checkChecksums(File(args[0]))
    check(tesseraVersion().isNotEmpty(), "the library loads (contract version and checksums checked at load)")

    val ta = "https://ta.example.it"
    val pidIssuer = "https://pid.example.it"
    val aud = "https://rp.example.it"
    val issuer = TestIssuer(ta, pidIssuer)
    val dir = Files.createTempDirectory("tessera-kotlin").toFile()
    val keys = JvmKeyStore()
    val storageKey = ByteArray(32).also { java.security.SecureRandom().nextBytes(it) }
    fun open(locale: String = "it", sk: ByteArray = storageKey) =
        Wallet.open(WalletConfig(dir.path, listOf(issuer.trustAnchor()), sk, locale, emptyList(), null), keys, null)

    try {
        val wallet = open()
        val holder = wallet.createCredentialKey()
        check(holder.publicKey.crv == "P-256" && keys.keys.containsKey(holder.tag), "a credential key is made in the app's key store")
        val cred = runBlocking { wallet.importCredential(issuer.issuePid(holder.publicKey, true), holder.tag) }
        check(cred.vct == "urn:eudi:pid:it:1", "imported the PID")
        check(cred.issuer.name == "Istituto Poligrafico e Zecca dello Stato", "issuer name from its federation metadata")
        check(cred.issuer.logoUri == "https://pid.example.it/logo.svg", "issuer logo from its federation metadata")
        val labels = cred.claims.associate { dotted(it.path) to it.label }
        check(labels["given_name"] == "Nome" && labels["family_name"] == "Cognome", "the issuer's Italian labels")
        check(texts(cred.claims)["given_name"] == "Mario", "claim values")
        check(wallet.credentials().map { it.id } == listOf(cred.id), "list")
        check(open(locale = "en").credential(cred.id).claims.first { dotted(it.path) == "given_name" }.label == "First name", "English labels")

        val nonce = "kotlin-nonce"
        val chosen = listOf(path(key("family_name")), path(key("birthdate")))
        val p = wallet.present(cred.id, chosen, aud, nonce)
        val shown = texts(issuer.verifyPresentation(p.sdJwt, aud, nonce))
        check(shown == mapOf("family_name" to "Rossi", "birthdate" to "1980-01-10"), "the verifier sees exactly the chosen claims: $shown")
        // The KB-JWT verifies with java.security too (raw r||s back to DER).
        val kb = p.sdJwt.substringAfterLast('~').split('.')
        val raw = Base64.getUrlDecoder().decode(kb[2])
        val der = java.io.ByteArrayOutputStream().apply {
            val r = BigInteger(1, raw.copyOfRange(0, 32)).toByteArray()
            val s = BigInteger(1, raw.copyOfRange(32, 64)).toByteArray()
            write(0x30); write(4 + r.size + s.size); write(2); write(r.size); write(r); write(2); write(s.size); write(s)
        }.toByteArray()
        val verifier = Signature.getInstance("SHA256withECDSA")
        verifier.initVerify(keys.keys.getValue(holder.tag).public)
        verifier.update("${kb[0]}.${kb[1]}".toByteArray())
        check(verifier.verify(der), "the KB-JWT signature verifies with java.security")
        assertThrows<WalletException.InvalidCredential>("a wrong nonce is refused by the verifier") {
            issuer.verifyPresentation(p.sdJwt, aud, "other")
        }

        val noClaim = assertThrows<WalletException.NoSuchClaim>("presenting a missing claim") {
            wallet.present(cred.id, listOf(path(key("blood_type"))), aud, nonce)
        }
        check(noClaim.code() == "no_such_claim" && noClaim.userMessage().contains("blood_type"), "error code and user message")
        keys.cancelNext = true
        assertThrows<WalletException.UserCancelled>("the user cancelling in the key store arrives typed") {
            wallet.present(cred.id, chosen, aud, nonce)
        }
        val other = TestIssuer(ta, "https://elsewhere.example.it")
        val k2 = wallet.createCredentialKey()
        assertThrows<WalletException.UntrustedIssuer>("an issuer the trust anchor does not vouch for") {
            runBlocking { wallet.importCredential(other.issuePid(k2.publicKey, true), k2.tag) }
        }
        assertThrows<WalletException.StorageLocked>("another storage key cannot open the store") {
            open(sk = ByteArray(32))
        }
        check(derSignatureToRaw(byteArrayOf(0x30, 6, 2, 1, 5, 2, 1, 7)).size == 64, "DER helper exported")

        wallet.deleteCredential(cred.id)
        check(wallet.credentials().isEmpty() && !keys.keys.containsKey(holder.tag), "delete removes the credential and its key")
        assertThrows<WalletException.CredentialNotFound>("a deleted credential is gone") { wallet.credential(cred.id) }
        val log = wallet.transactions()
        check(log.map { it.kind } == listOf(TransactionKind.ISSUANCE, TransactionKind.PRESENTATION, TransactionKind.DELETION), "transaction log")
        check(log[1].counterparty == aud && log[1].claims == listOf("family_name", "birthdate"), "the log names the relying party and the claims")

        val soft = Wallet.open(WalletConfig(File(dir, "soft").path, listOf(issuer.trustAnchor()), null, null, emptyList(), null), softwareKeyStore(), null)
        val sk = soft.createCredentialKey()
        val sc = runBlocking { soft.importCredential(issuer.issuePid(sk.publicKey, true), sk.tag) }
        check(soft.present(sc.id, chosen, aud, nonce).disclosed.size == 2, "the software key store default works")
        assertThrows<WalletException.NotConfigured>("activation needs a wallet provider") { soft.startActivation("app://cb") }
    } finally {
        dir.deleteRecursively()
    }
    println("kotlin: $checks checks passed")
}
