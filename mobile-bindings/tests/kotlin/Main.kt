// The wallet through the Kotlin binding on the JVM, with a KeyStore implemented here on
// java.security (EC P-256, DER signatures converted to raw r||s as an Android app does) and an
// HttpClient on java.net.http (JDK 17, redirects not followed).
// A plain program (no test framework on this machine): each check throws on failure and
// the process exits non-zero. Args: the generated tessera.kt (for the checksum check).
// Environment: TESSERA_LOOPBACK_FEDERATION, the built examples/loopback_federation (trust
// anchor, test OpenID Provider, wallet provider and credential issuers on loopback) for the
// activation and issuance checks (pre-authorized offers, and the authorization code flow with
// a BrowserStep implemented here).

import com.sun.jna.NativeLibrary
import java.io.File
import java.math.BigInteger
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient as JHttpClient
import java.net.http.HttpRequest as JHttpRequest
import java.net.http.HttpResponse as JHttpResponse
import java.nio.file.Files
import java.security.AlgorithmParameters
import java.security.KeyFactory
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.MessageDigest
import java.security.PublicKey
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECFieldFp
import java.security.spec.ECGenParameterSpec
import java.security.spec.ECParameterSpec
import java.security.spec.ECPoint
import java.security.spec.ECPrivateKeySpec
import java.security.spec.ECPublicKeySpec
import java.time.Duration
import java.util.Base64
import java.util.Collections
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.TimeUnit
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

/** Raw r||s back to DER (what java.security verifies). */
fun rawToDer(raw: ByteArray): ByteArray = java.io.ByteArrayOutputStream().apply {
    val r = BigInteger(1, raw.copyOfRange(0, 32)).toByteArray()
    val s = BigInteger(1, raw.copyOfRange(32, 64)).toByteArray()
    write(0x30); write(4 + r.size + s.size); write(2); write(r.size); write(r); write(2); write(s.size); write(s)
}.toByteArray()

fun b64u(b: ByteArray): String = Base64.getUrlEncoder().withoutPadding().encodeToString(b)
fun b64uDecode(s: String): ByteArray = Base64.getUrlDecoder().decode(s)

val P256: ECParameterSpec = AlgorithmParameters.getInstance("EC")
    .apply { init(ECGenParameterSpec("secp256r1")) }
    .getParameterSpec(ECParameterSpec::class.java)

fun ecPublicKey(x: ByteArray, y: ByteArray): PublicKey =
    KeyFactory.getInstance("EC").generatePublic(ECPublicKeySpec(ECPoint(BigInteger(1, x), BigInteger(1, y)), P256))

/** ES256 over `signingInput` with raw r||s `sig`, checked by java.security. */
fun verifyEs256(key: PublicKey, signingInput: String, sig: ByteArray): Boolean =
    sig.size == 64 && Signature.getInstance("SHA256withECDSA").run {
        initVerify(key)
        update(signingInput.toByteArray())
        verify(rawToDer(sig))
    }

fun signEs256(key: java.security.PrivateKey, message: ByteArray): ByteArray =
    derToRaw(Signature.getInstance("SHA256withECDSA").run { initSign(key); update(message); sign() })

/** `k·G` on P-256 in affine coordinates (java.security derives no public key from a scalar). */
fun p256Multiply(k: BigInteger): ECPoint {
    val p = (P256.curve.field as ECFieldFp).p
    val a = P256.curve.a
    fun add(u: ECPoint, v: ECPoint): ECPoint {
        if (u == ECPoint.POINT_INFINITY) return v
        if (v == ECPoint.POINT_INFINITY) return u
        val lambda = if (u.affineX == v.affineX) {
            if ((u.affineY + v.affineY).mod(p) == BigInteger.ZERO) return ECPoint.POINT_INFINITY
            (u.affineX.pow(2) * BigInteger.valueOf(3) + a) * (u.affineY * BigInteger.TWO).modInverse(p)
        } else {
            (v.affineY - u.affineY) * (v.affineX - u.affineX).modInverse(p)
        }.mod(p)
        val x = (lambda.pow(2) - u.affineX - v.affineX).mod(p)
        return ECPoint(x, (lambda * (u.affineX - x) - u.affineY).mod(p))
    }
    var acc = ECPoint.POINT_INFINITY
    var addend = P256.generator
    for (i in 0 until k.bitLength()) {
        if (k.testBit(i)) acc = add(acc, addend)
        addend = add(addend, addend)
    }
    return acc
}

/** RFC 7638 thumbprint of a P-256 key. */
fun thumbprint(x: String, y: String): String =
    b64u(MessageDigest.getInstance("SHA-256").digest("""{"crv":"P-256","kty":"EC","x":"$x","y":"$y"}""".toByteArray()))

/**
 * wallet-core's development key attestation format (wallet_core::attestation::key_attestation::
 * software), produced here on the JVM: a JWS `typ: key-attestation-dev+jwt` signed by the
 * *published* development root, whose P-256 private scalar is SHA-256 of a fixed seed (insecure
 * by design: a development wallet provider accepts it, a production one refuses the format).
 * So the JVM key store attests its own java.security keys, as a phone's key store would with
 * Android Key Attestation, rather than delegating to wallet-core's software store (which could
 * only attest keys it holds itself; the Python suite does the same with its own keys).
 */
object DevAttestationRoot {
    private val d = BigInteger(1, MessageDigest.getInstance("SHA-256").digest("tessera development software key attestation root v1".toByteArray()))
    private val private = KeyFactory.getInstance("EC").generatePrivate(ECPrivateKeySpec(d, P256))
    val publicPoint: ECPoint = p256Multiply(d)
    val public: PublicKey = KeyFactory.getInstance("EC").generatePublic(ECPublicKeySpec(publicPoint, P256))
    val kid = thumbprint(b64u(fixed32(publicPoint.affineX)), b64u(fixed32(publicPoint.affineY)))

    fun attest(point: ByteArray, challenge: ByteArray): String {
        val now = System.currentTimeMillis() / 1000
        val x = b64u(point.copyOfRange(1, 33))
        val y = b64u(point.copyOfRange(33, 65))
        val header = """{"alg":"ES256","typ":"key-attestation-dev+jwt","kid":"$kid"}"""
        val claims = """{"iss":"tessera-software-keystore","iat":$now,"exp":${now + 300},"challenge":"${b64u(challenge)}",""" +
            """"attested_key":{"kty":"EC","crv":"P-256","x":"$x","y":"$y"},"security_level":"software"}"""
        val input = b64u(header.toByteArray()) + "." + b64u(claims.toByteArray())
        return input + "." + b64u(signEs256(private, input.toByteArray()))
    }
}

class JvmKeyStore : KeyStore {
    // The wallet calls the key store from its own threads (activation runs off the caller's).
    val keys = ConcurrentHashMap<String, KeyPair>()
    val attested: MutableList<String> = Collections.synchronizedList(mutableListOf())
    val deleted: MutableList<String> = Collections.synchronizedList(mutableListOf())
    @Volatile var cancelNext = false
    val signed = java.util.concurrent.atomic.AtomicInteger()

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
        signed.incrementAndGet()
        return signEs256(kp.private, message)
    }

    override fun keyAttestation(tag: String, challenge: ByteArray): String {
        val point = publicKey(tag)
        attested += tag
        return DevAttestationRoot.attest(point, challenge)
    }

    override fun deleteKey(tag: String) {
        deleted += tag
        keys.remove(tag)
    }

    /** The tag of the key with this JWK's coordinates, if it is one of ours. */
    fun tagOf(x: String, y: String): String? = keys.keys.firstOrNull { t ->
        keys[t]?.let { publicKey(t).let { p -> b64u(p.copyOfRange(1, 33)) == x && b64u(p.copyOfRange(33, 65)) == y } } == true
    }
}

/** The app's HTTP client on java.net.http: never follows redirects, any status is a response. */
class JvmHttpClient : HttpClient {
    private val http = JHttpClient.newBuilder()
        .followRedirects(JHttpClient.Redirect.NEVER)
        .version(JHttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5))
        .build()
    val urls: MutableList<String> = Collections.synchronizedList(mutableListOf())
    private val restricted = setOf("connection", "content-length", "expect", "host", "upgrade", "date", "from", "via", "warning")

    override fun send(request: HttpRequest): HttpResponse {
        urls += request.url
        val body = if (request.body.isEmpty()) JHttpRequest.BodyPublishers.noBody() else JHttpRequest.BodyPublishers.ofByteArray(request.body)
        val b = JHttpRequest.newBuilder(URI(request.url)).timeout(Duration.ofSeconds(10)).method(request.method, body)
        request.headers.filter { it.name.lowercase() !in restricted }.forEach { b.header(it.name, it.value) }
        try {
            val r = http.send(b.build(), JHttpResponse.BodyHandlers.ofByteArray())
            val headers = r.headers().map().flatMap { (name, values) -> values.map { HttpHeader(name, it) } }
            return HttpResponse(r.statusCode().toUShort(), headers, r.body())
        } catch (e: java.io.IOException) {
            throw HttpException.Failed(e.toString())
        }
    }
}

/** A minimal JSON reader (no JSON library on this classpath): maps, lists, strings, numbers. */
class Json private constructor(private val s: String) {
    private var i = 0

    companion object {
        fun parse(text: String): Any? = Json(text).run { val v = value(); ws(); require(i == s.length) { "trailing JSON" }; v }
    }

    private fun ws() { while (i < s.length && s[i].isWhitespace()) i++ }
    private fun expect(c: Char) { require(i < s.length && s[i] == c) { "JSON: expected '$c' at $i" }; i++ }

    private fun value(): Any? {
        ws()
        require(i < s.length) { "JSON: unexpected end" }
        return when (s[i]) {
            '{' -> obj()
            '[' -> array()
            '"' -> string()
            't' -> literal("true", true)
            'f' -> literal("false", false)
            'n' -> literal("null", null)
            else -> {
                val start = i
                while (i < s.length && s[i] in "+-0123456789.eE") i++
                val t = s.substring(start, i)
                t.toLongOrNull() ?: t.toDouble()
            }
        }
    }

    private fun obj(): Map<String, Any?> {
        expect('{')
        val m = LinkedHashMap<String, Any?>()
        ws()
        if (s[i] == '}') { i++; return m }
        do {
            ws(); val k = string(); ws(); expect(':'); m[k] = value(); ws()
            val more = s[i] == ','
            if (more) i++ else expect('}')
        } while (more)
        return m
    }

    private fun array(): List<Any?> {
        expect('[')
        val l = ArrayList<Any?>()
        ws()
        if (s[i] == ']') { i++; return l }
        do {
            l += value(); ws()
            val more = s[i] == ','
            if (more) i++ else expect(']')
        } while (more)
        return l
    }

    private fun literal(word: String, v: Any?): Any? {
        require(s.startsWith(word, i)) { "JSON: bad literal at $i" }
        i += word.length
        return v
    }

    private fun string(): String {
        expect('"')
        val b = StringBuilder()
        while (true) {
            val c = s[i++]
            when (c) {
                '"' -> return b.toString()
                '\\' -> when (val e = s[i++]) {
                    'n' -> b.append('\n'); 't' -> b.append('\t'); 'r' -> b.append('\r'); 'b' -> b.append('\b'); 'f' -> b.append('\u000C')
                    'u' -> { b.append(s.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                    else -> b.append(e)
                }
                else -> b.append(c)
            }
        }
    }
}

@Suppress("UNCHECKED_CAST")
fun obj(v: Any?): Map<String, Any?> = v as? Map<String, Any?> ?: throw AssertionError("FAILED: not a JSON object: $v")
fun list(v: Any?): List<Any?> = v as? List<Any?> ?: throw AssertionError("FAILED: not a JSON array: $v")

/** The JSON of part `n` (0 header, 1 payload) of a compact JWS. */
fun jwtPart(jwt: String, n: Int): Map<String, Any?> = obj(Json.parse(String(b64uDecode(jwt.split('.')[n]))))

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

/** The browser, on java.net.http with redirects disabled: every hop is checked here. */
class Browser {
    private val http = JHttpClient.newBuilder()
        .followRedirects(JHttpClient.Redirect.NEVER)
        .version(JHttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5))
        .build()

    fun get(url: String): JHttpResponse<String> =
        http.send(JHttpRequest.newBuilder(URI(url)).timeout(Duration.ofSeconds(10)).GET().build(), JHttpResponse.BodyHandlers.ofString())

    fun postForm(url: String, fields: List<Pair<String, String>>): JHttpResponse<String> {
        val body = fields.joinToString("&") { (k, v) -> URLEncoder.encode(k, Charsets.UTF_8) + "=" + URLEncoder.encode(v, Charsets.UTF_8) }
        val req = JHttpRequest.newBuilder(URI(url)).timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(JHttpRequest.BodyPublishers.ofString(body)).build()
        return http.send(req, JHttpResponse.BodyHandlers.ofString())
    }
}

/** `Location` of a redirect, resolved against the request's URL. */
fun location(r: JHttpResponse<String>): String =
    r.uri().resolve(r.headers().firstValue("Location").orElseThrow { AssertionError("FAILED: no Location from ${r.uri()}") }).toString()

fun htmlUnescape(s: String) = s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

/** The attributes of each `<tag ...>` in `html`. */
fun tags(html: String, tag: String): List<Map<String, String>> =
    Regex("<$tag\\b([^>]*)>", RegexOption.IGNORE_CASE).findAll(html).map { m ->
        Regex("""([a-zA-Z_-]+)(?:="([^"]*)")?""").findAll(m.groupValues[1]).associate { it.groupValues[1].lowercase() to htmlUnescape(it.groupValues[2]) }
    }.toList()

/**
 * The test OpenID Provider's login page as a browser submits it: the form's action, its hidden
 * `session`, the checked `fiscal_number` radio (one per test identity) and the selected `acr`
 * option (the level the wallet provider asked for).
 */
fun loginForm(page: String, pageUrl: URI): Pair<String, List<Pair<String, String>>> {
    val form = tags(page, "form").singleOrNull() ?: throw AssertionError("FAILED: one form on the login page")
    val inputs = tags(page, "input")
    val session = inputs.single { it["type"] == "hidden" && it["name"] == "session" }.getValue("value")
    val identities = inputs.filter { it["type"] == "radio" && it["name"] == "fiscal_number" }
    check(identities.isNotEmpty(), "the login page offers ${identities.size} test identities")
    val fiscalNumber = (identities.firstOrNull { it.containsKey("checked") } ?: identities.first()).getValue("value")
    val select = Regex("""<select name="acr">(.*?)</select>""", RegexOption.DOT_MATCHES_ALL).find(page)?.groupValues?.get(1)
        ?: throw AssertionError("FAILED: no acr select on the login page")
    val levels = tags(select, "option")
    val acr = (levels.firstOrNull { it.containsKey("selected") } ?: levels.first()).getValue("value")
    check(levels.size == 3 && acr.startsWith("https://www.spid.gov.it/Spid"), "the login page offers the SPID levels, $acr preselected")
    return pageUrl.resolve(form.getValue("action")).toString() to listOf("session" to session, "fiscal_number" to fiscalNumber, "acr" to acr)
}

/** examples/loopback_federation: serves until its stdin closes; its first stdout line describes it. */
class Federation(exe: String) : AutoCloseable {
    private val proc = ProcessBuilder(exe).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    val info = obj(Json.parse(proc.inputStream.bufferedReader().readLine() ?: throw AssertionError("FAILED: the loopback federation did not start")))
    val walletProvider = info["wallet_provider"] as String
    val op = info["op"] as String
    val redirectUri = info["redirect_uri"] as String
    val issuer = info["issuer"] as String
    val untrustedIssuer = info["untrusted_issuer"] as String
    val issuerRegistry = info["issuer_registry"] as String
    val pidIssuer = info["pid_issuer"] as String
    val issuanceRedirectUri = info["issuance_redirect_uri"] as String
    val pidFiscalNumber = info["pid_fiscal_number"] as String
    val pidAcr = info["pid_acr"] as String
    val pidConfiguration = info["pid_configuration"] as String
    val mdlConfiguration = info["mdl_configuration"] as String
    private val adminToken = info["issuer_admin_token"] as String
    val anchor = obj(info["trust_anchor"]).let { ta ->
        TrustAnchor(ta["entity_id"] as String, list(obj(ta["jwks"])["keys"]).map { obj(it) }.map { k ->
            JwkRecord(k["kty"] as String, k["crv"] as String?, k["x"] as String?, k["y"] as String?, k["n"] as String?, k["e"] as String?, k["kid"] as String?)
        })
    }

    /** An offer from `issuerUrl`'s admin API for `citizen`: (offer URL, tx_code). */
    fun offer(citizen: String, issuerUrl: String = issuer): Pair<String, String> {
        val r = JHttpClient.newHttpClient().send(
            JHttpRequest.newBuilder(URI("$issuerUrl/admin/offers"))
                .header("Authorization", "Bearer $adminToken").header("Content-Type", "application/json")
                .POST(JHttpRequest.BodyPublishers.ofString("""{"citizen":"$citizen"}""")).build(),
            JHttpResponse.BodyHandlers.ofString(),
        )
        check(r.statusCode() == 201, "the issuer made an offer (${r.statusCode()})")
        val body = obj(Json.parse(r.body()))
        return body["offer_url"] as String to body["tx_code"] as String
    }

    /** An offer with the `authorization_code` grant from the Motorizzazione, for `citizen`. */
    fun authorizationCodeOffer(citizen: String): String {
        val r = JHttpClient.newHttpClient().send(
            JHttpRequest.newBuilder(URI("$issuer/admin/offers"))
                .header("Authorization", "Bearer $adminToken").header("Content-Type", "application/json")
                .POST(JHttpRequest.BodyPublishers.ofString("""{"citizen":"$citizen","grant":"authorization_code"}""")).build(),
            JHttpResponse.BodyHandlers.ofString(),
        )
        check(r.statusCode() == 201, "the issuer made an authorization_code offer (${r.statusCode()})")
        return obj(Json.parse(r.body()))["offer_url"] as String
    }

    override fun close() {
        proc.outputStream.close()
        if (!proc.waitFor(10, TimeUnit.SECONDS)) proc.destroy()
    }
}

/** The citizen's login, played here: provider login → OP page → identity chosen → back to the app. */
fun browse(fed: Federation, loginUrl: String): String {
    val browser = Browser()
    val toOp = browser.get(loginUrl)
    check(toOp.statusCode() == 302 && location(toOp).startsWith(fed.op + "/"), "the wallet provider sends the browser to the OpenID Provider")
    val page = browser.get(location(toOp))
    check(page.statusCode() == 200 && page.body().contains("<form"), "the OpenID Provider shows its login page")
    val (action, fields) = loginForm(page.body(), page.uri())
    val consent = browser.postForm(action, fields)
    check(consent.statusCode() == 302 && location(consent).startsWith(fed.walletProvider + "/"), "POST ${URI(action).path}: back to the wallet provider with a code (${consent.statusCode()})")
    val toApp = browser.get(location(consent))
    check(toApp.statusCode() == 302 && location(toApp).startsWith(fed.redirectUri + "?"), "the wallet provider redirects to the app's URI")
    return location(toApp)
}

/**
 * Activation against the wallet provider and the spid-cie-oidc test OpenID Provider on
 * loopback, with this file's KeyStore (its own development key attestations) and HttpClient.
 */
fun activation(exe: String) {
    val root = Files.createTempDirectory("tessera-kotlin-activation").toFile()
    Federation(exe).use { fed ->
        try {
            // The development root derived here is wallet-core's: it verifies the software store's attestation.
            val soft = softwareKeyStore()
            soft.generateKey("dev-root-check")
            val softAtt = soft.keyAttestation("dev-root-check", "c".toByteArray()).split('.')
            check(verifyEs256(DevAttestationRoot.public, "${softAtt[0]}.${softAtt[1]}", b64uDecode(softAtt[2])), "the published development attestation root, derived on the JVM, is wallet-core's")

            val keys = JvmKeyStore()
            val http = JvmHttpClient()
            val wallet = Wallet.open(WalletConfig(root.path, listOf(fed.anchor), null, "it", emptyList(), fed.walletProvider), keys, http)
            check(wallet.activation() == null, "not activated before the login")
            val login = wallet.startActivation(fed.redirectUri)
            check(login.startsWith(fed.walletProvider + "/citizen/login?") && login.contains("state="), "startActivation gives the wallet provider's login URL")
            val back = browse(fed, login)

            val info = runBlocking { wallet.finishActivation(back) }
            val now = System.currentTimeMillis() / 1000
            check(info.provider == fed.walletProvider, "activated at the wallet provider")
            check(keys.keys.containsKey(info.instanceId) && info.instanceId in keys.attested, "the hardware key is a java.security key, attested by the JVM key store")
            check(http.urls.any { it.startsWith(fed.walletProvider) }, "the wallet reached the provider through the JVM HttpClient")
            check((info.waaExpiresAt ?: 0) > now && (info.wuaExpiresAt ?: 0) > now, "WAA and WUA not expired")
            val waa = info.walletAppAttestation ?: throw AssertionError("FAILED: no WAA")
            val wua = info.walletUnitAttestation ?: throw AssertionError("FAILED: no WUA")
            check(jwtPart(waa, 0)["typ"] == "oauth-client-attestation+jwt", "the Wallet App Attestation")
            check(jwtPart(wua, 0)["typ"] == "key-attestation+jwt", "the Wallet Unit Attestation")
            val attestedKeys = list(jwtPart(wua, 1)["attested_keys"]).map { obj(it) }
            check(attestedKeys.isNotEmpty() && attestedKeys.all { keys.tagOf(it["x"] as String, it["y"] as String) != null }, "the WUA attests keys held by the JVM key store")
            check(wallet.activation() == info, "activation() reads the instance back")

            val issuer = "https://pid.example.it"
            val headers = runBlocking { wallet.clientAttestation(issuer, "issuer-challenge") }
            check(headers.attestation == waa, "OAuth-Client-Attestation is the WAA")
            val pop = headers.pop.split('.')
            val popClaims = jwtPart(headers.pop, 1)
            check(jwtPart(headers.pop, 0)["typ"] == "oauth-client-attestation-pop+jwt", "OAuth-Client-Attestation-PoP")
            check((popClaims["aud"] == issuer || (popClaims["aud"] as? List<*>)?.contains(issuer) == true) && popClaims["challenge"] == "issuer-challenge", "the PoP names the issuer and its challenge")
            val cnf = obj(obj(jwtPart(waa, 1)["cnf"])["jwk"])
            val waaKeyTag = keys.tagOf(cnf["x"] as String, cnf["y"] as String)
            check(waaKeyTag != null, "the WAA is bound to a key of the JVM key store")
            check(popClaims["iss"] == thumbprint(cnf["x"] as String, cnf["y"] as String), "the PoP's iss is the WAA key's RFC 7638 thumbprint")
            check(verifyEs256(keys.keys.getValue(waaKeyTag!!).public, "${pop[0]}.${pop[1]}", b64uDecode(pop[2])), "the PoP signature verifies with java.security")

            val instances = runBlocking { wallet.listInstances() }
            check(instances.filter { it.thisDevice }.map { it.id to it.status } == listOf(info.instanceId to InstanceStatus.ACTIVE), "listInstances: this device's instance, active")

            val renewed = runBlocking { wallet.renewAttestations() }
            check(renewed.instanceId == info.instanceId && renewed.walletAppAttestation != waa, "renewAttestations: fresh attestations, same instance")
            check(waaKeyTag in keys.deleted, "renewal deletes the previous WAA key")

            runBlocking { wallet.revokeInstance(info.instanceId) }
            check(wallet.activation() == null, "revokeInstance: this device's instance forgotten")
            check(info.instanceId in keys.deleted && !keys.keys.containsKey(info.instanceId), "revokeInstance deletes the hardware key from the JVM key store")
            val after = runBlocking { wallet.listInstances() }.associate { it.id to it.status }
            check(after[info.instanceId] == InstanceStatus.REVOKED, "listInstances: revoked")
            val notActivated = assertThrows<WalletException.NotActivated>("no client attestation after revocation") {
                runBlocking { wallet.clientAttestation(issuer, null) }
            }
            check(notActivated.code() == "not_activated", "error code not_activated")

            // A provider that our trust anchor does not vouch for: registered, but its attestations refused.
            val stranger = TestIssuer("https://other-ta.example.it", "https://x.example.it").trustAnchor()
            val other = Wallet.open(WalletConfig(File(root, "other").path, listOf(stranger), null, null, emptyList(), fed.walletProvider), JvmKeyStore(), JvmHttpClient())
            val refusedBack = browse(fed, other.startActivation(fed.redirectUri))
            val refused = assertThrows<WalletException.ProviderProtocol>("a provider outside our trust anchor is refused") {
                runBlocking { other.finishActivation(refusedBack) }
            }
            check(refused.code() == "provider_protocol" && other.activation()?.walletAppAttestation == null, "no attestation kept from it")
        } finally {
            root.deleteRecursively()
        }
    }
}

/**
 * OpenID4VCI from an offer of the loopback federation's issuer (driving licence, pre-authorized
 * code): a wallet activated with the JVM key store, the consent, a wrong tx_code refused by the
 * issuer, accepted with the right one; the credential bound to the JVM key the WUA attests,
 * listed, presented (issuer signature and KB-JWT verified with java.security); an issuer outside
 * the federation shown untrusted and refused.
 */
fun issuance(exe: String) {
    val root = Files.createTempDirectory("tessera-kotlin-issuance").toFile()
    Federation(exe).use { fed ->
        try {
            val keys = JvmKeyStore()
            val http = JvmHttpClient()
            val wallet = Wallet.open(WalletConfig(root.path, listOf(fed.anchor), null, "it", emptyList(), fed.walletProvider), keys, http)
            val info = runBlocking { wallet.finishActivation(browse(fed, wallet.startActivation(fed.redirectUri))) }

            val (url, code) = fed.offer("RSSMRA80A10H501Z")
            val session = runBlocking { wallet.startIssuance(url) }
            val c = session.consent()
            check(c.issuerId == fed.issuer && c.issuerName == "Motorizzazione Civile (loopback)", "consent: the issuer and its name")
            check((c.trust as? IssuerTrust.Trusted)?.trustAnchor == fed.anchor.entityId, "consent: trusted, under our trust anchor")
            check(c.credentials.map { Triple(it.configurationId, it.vct, it.name) } == listOf(Triple("dc_sd_jwt_mDL", "urn:eudi:mDL:it:1", "Patente di guida")), "consent: the offered driving licence")
            check(c.txCode?.let { it.inputMode == TxCodeInputMode.NUMERIC && it.length == 6u } == true, "consent: a 6-digit transaction code is needed")
            check((session.nextStep() as? IssuanceNextStep.Accept)?.txCode == c.txCode, "next step: accept with the code")

            val wrongCode = code.map { '0' + ((it - '0' + 1) % 10) }.joinToString("")
            val refused = assertThrows<WalletException.IssuerRefused>("a wrong tx_code is refused by the issuer") {
                runBlocking { session.accept(wrongCode) }
            }
            check(refused.code() == "issuer_refused" && refused.stage == IssuanceStage.TOKEN && refused.error == "invalid_grant", "at the token endpoint, invalid_grant")
            assertThrows<WalletException.InvalidTxCode>("a code of the wrong length is refused before sending") {
                runBlocking { session.accept("12") }
            }

            val out = runBlocking { session.accept(code) }
            val cred = (out as? IssuanceOutcome.Issued)?.credentials?.singleOrNull() ?: throw AssertionError("FAILED: not issued: $out")
            check(cred.vct == "urn:eudi:mDL:it:1" && cred.issuer.entityId == fed.issuer && cred.issuer.trustAnchor == fed.anchor.entityId, "issued: the driving licence, its issuer and trust anchor")
            check(texts(cred.claims).let { it["given_name"] == "Mario" && it["document_number"] == "RM5012345A" }, "issued: its claims")
            val attested = list(jwtPart(info.walletUnitAttestation!!, 1)["attested_keys"]).map { obj(it) }.map { keys.tagOf(it["x"] as String, it["y"] as String) }
            check(cred.keyTag in attested, "bound to the JVM key the WUA attests")
            check(wallet.credentials().map { it.id } == listOf(cred.id), "listed")
            check(cred.claims.first { dotted(it.path) == "given_name" }.label.isNotEmpty(), "labelled")
            check(session.nextStep() == IssuanceNextStep.Done, "next step: done")
            assertThrows<WalletException.IssuanceClosed>("a second accept") { runBlocking { session.accept(code) } }

            val nonce = "kotlin-issued"
            val p = wallet.present(cred.id, listOf(path(key("given_name")), path(key("document_number"))), "https://rp.example.it", nonce)
            check(texts(p.disclosed) == mapOf("given_name" to "Mario", "document_number" to "RM5012345A"), "presented: the chosen claims")
            val jwt = p.sdJwt.substringBefore('~').split('.')
            val kid = jwtPart(p.sdJwt.substringBefore('~'), 0)["kid"]
            val metadata = obj(Json.parse(String(java.net.URL("${fed.issuer}/.well-known/openid-credential-issuer").readBytes())))
            val ik = list(obj(metadata["jwks"])["keys"]).map { obj(it) }.first { it["kid"] == kid }
            check(verifyEs256(ecPublicKey(b64uDecode(ik["x"] as String), b64uDecode(ik["y"] as String)), "${jwt[0]}.${jwt[1]}", b64uDecode(jwt[2])), "the issuer's signature verifies with java.security")
            val kb = p.sdJwt.substringAfterLast('~').split('.')
            check(jwtPart(p.sdJwt.substringAfterLast('~'), 1)["nonce"] == nonce, "the KB-JWT carries the nonce")
            check(verifyEs256(keys.keys.getValue(cred.keyTag).public, "${kb[0]}.${kb[1]}", b64uDecode(kb[2])), "the KB-JWT verifies with the JVM key")
            check(wallet.transactions().any { it.kind == TransactionKind.ISSUANCE && it.counterparty == fed.issuer && it.credentialIds == listOf(cred.id) }, "the issuance is logged")

            // Luigia Verdi's licence is not ready: deferred, polled, then ready in the registry.
            val (lUrl, lCode) = fed.offer("VRDLGU85M41F205X")
            val deferred = (runBlocking { wallet.startIssuance(lUrl).accept(lCode) } as? IssuanceOutcome.Deferred)?.deferred
                ?: throw AssertionError("FAILED: not deferred")
            check(deferred.configurationId() == "dc_sd_jwt_mDL" && deferred.intervalSecs() >= 1uL && deferred.isPending(), "deferred: the handle")
            check(runBlocking { deferred.poll() } is IssuanceOutcome.Deferred, "deferred: still pending")
            val sqlite = ProcessBuilder("sqlite3", fed.issuerRegistry, "UPDATE licences SET ready = 1 WHERE tax_id_code = 'VRDLGU85M41F205X'")
                .redirectErrorStream(true).start()
            check(sqlite.waitFor(10, TimeUnit.SECONDS) && sqlite.exitValue() == 0, "the registry marks the licence ready (sqlite3)")
            val later = (runBlocking { deferred.poll() } as? IssuanceOutcome.Issued)?.credentials?.singleOrNull()
            check(later != null && texts(later.claims)["given_name"] == "Luigia" && !deferred.isPending(), "deferred: issued once ready")
            assertThrows<WalletException.IssuanceClosed>("deferred: polled after it was issued") { runBlocking { deferred.poll() } }

            val (outsideUrl, outsideCode) = fed.offer("RSSMRA80A10H501Z", fed.untrustedIssuer)
            val outside = runBlocking { wallet.startIssuance(outsideUrl) }
            check(outside.consent().trust is IssuerTrust.Untrusted && outside.nextStep() is IssuanceNextStep.Refused, "an issuer outside the federation: shown untrusted")
            val untrusted = assertThrows<WalletException.UntrustedIssuer>("and refused at accept") { runBlocking { outside.accept(outsideCode) } }
            check(untrusted.code() == "untrusted_issuer" && untrusted.issuer == fed.untrustedIssuer, "its error names the issuer")
        } finally {
            root.deleteRecursively()
        }
    }
}

/** OpenID4VP: the library's TestVerifier served on loopback by the JDK's HTTP server; the
 *  wallet opens its request (POST with wallet_nonce), shows the consent model, presents with
 *  the JVM key store signing the KB-JWT (verified at the verifier), and declines. */
fun presentation() {
    val issuer = TestIssuer("https://ta.issuers.example", "https://pid.example.it")
    val server = com.sun.net.httpserver.HttpServer.create(java.net.InetSocketAddress("127.0.0.1", 0), 0)
    val rp = "http://127.0.0.1:${server.address.port}"
    val verifier = TestVerifier("https://ta.verifiers.example", rp, listOf(issuer.trustAnchor()))
    fun reply(ex: com.sun.net.httpserver.HttpExchange, a: TestAnswer) {
        val body = a.body.toByteArray()
        ex.responseHeaders.add("Content-Type", a.contentType)
        ex.sendResponseHeaders(a.status.toInt(), body.size.toLong())
        ex.responseBody.use { it.write(body) }
    }
    server.createContext("/request") { ex -> reply(ex, verifier.requestObject(ex.requestBody.readBytes())) }
    server.createContext("/response") { ex -> reply(ex, verifier.receiveResponse(ex.requestBody.readBytes())) }
    val pool = java.util.concurrent.Executors.newFixedThreadPool(2)
    server.executor = pool
    server.start()
    val dir = Files.createTempDirectory("tessera-kotlin-vp").toFile()
    try {
        val keys = JvmKeyStore()
        val http = JvmHttpClient()
        val wallet = Wallet.open(WalletConfig(dir.path, listOf(issuer.trustAnchor(), verifier.trustAnchor()), null, "en", emptyList(), null), keys, http)
        val holder = wallet.createCredentialKey()
        val cred = runBlocking { wallet.importCredential(issuer.issuePid(holder.publicKey, true), holder.tag) }

        val session = runBlocking { wallet.startPresentation(verifier.requestUrl("post")) }
        check(http.urls.contains("$rp/request"), "the request object is fetched through the app's HttpClient")
        val consent = session.consent()
        val party = consent.relyingParty
        check(party.name == "Comune di Roma" && party.logoUri == "$rp/logo.svg" && party.entityId == rp, "the relying party's name, logo and entity id")
        check((party.trust as? RelyingPartyTrust.Federation)?.trustAnchor == "https://ta.verifiers.example", "trusted through its federation trust anchor")
        check(party.purpose == "Accesso ai servizi comunali" && party.warnings == listOf(ConsentWarning.NO_VALID_TRUST_MARK), "purpose and warnings")
        val candidate = consent.requests.single().candidates.single()
        check(candidate.credentialId == cred.id, "the PID is the candidate")
        check(texts(candidate.claims) == mapOf("given_name" to "Mario", "family_name" to "Rossi", "place_of_birth.locality" to "Roma"), "exactly the claims it would disclose")
        check(candidate.claims.first().label == "First name", "labelled in the wallet's locale")
        val outcome = runBlocking { session.present(listOf(ConsentSelection("pid", cred.id))) }
        check(outcome.redirectUri?.startsWith("$rp/done?response_code=") == true, "the same-device redirect comes back")
        val verdict = verifier.verdict()
        check(verdict?.outcome == "verified" && verdict.audience == party.clientId, "the verifier verified the presentation: ${verdict?.detail}")
        assertThrows<WalletException.PresentationClosed>("a presentation is answered once") { runBlocking { session.decline() } }

        val declined = runBlocking { wallet.startPresentation(verifier.requestUrl("get")) }
        runBlocking { declined.decline() }
        check(verifier.verdict()?.let { it.outcome == "declined" && it.detail == "access_denied" } == true, "decline arrives as access_denied")
        val wrong = runBlocking { wallet.startPresentation(verifier.requestUrl("get")) }
        val e = assertThrows<WalletException.InvalidChoice>("a choice that does not fit the request") {
            runBlocking { wrong.present(listOf(ConsentSelection("mdl", cred.id))) }
        }
        check(e.code() == "invalid_choice", "its code")
        val log = wallet.transactions().filter { it.kind == TransactionKind.PRESENTATION || it.kind == TransactionKind.DECLINED }
        check(log.size == 2 && log[0].kind == TransactionKind.PRESENTATION && log[0].counterparty == rp, "the presentation is logged")
        check(log[1].kind == TransactionKind.DECLINED && log[1].claims.isEmpty(), "the decline is logged as declined")
    } finally {
        server.stop(0)
        pool.shutdownNow() // its threads would keep the JVM alive
        dir.deleteRecursively()
    }
}

/**
 * The phone's browser for the issuance login, as an app implements `BrowserStep` (here on
 * java.net.http, redirects checked hop by hop): follows redirects, fills the OpenID Provider's
 * login form with `fiscalNumber` at `acr`, and returns at the wallet's `redirect_uri`.
 */
class JvmBrowserStep(private val fiscalNumber: String, private val acr: String) : BrowserStep {
    val opened: MutableList<String> = Collections.synchronizedList(mutableListOf())

    override fun open(url: String, redirectUri: String): String {
        opened += url
        val browser = Browser()
        var at = url
        repeat(10) {
            if (at.startsWith(redirectUri)) return at
            val r = browser.get(at)
            at = when {
                r.statusCode() in 300..399 -> location(r)
                r.statusCode() == 200 -> {
                    val (action, fields) = loginForm(r.body(), r.uri())
                    val chosen = fields.map { (k, v) -> k to when (k) { "fiscal_number" -> fiscalNumber; "acr" -> acr; else -> v } }
                    val back = browser.postForm(action, chosen)
                    if (back.statusCode() !in 300..399) throw BrowserException.Failed("login: HTTP ${back.statusCode()}")
                    location(back)
                }
                else -> throw BrowserException.Failed("$at: HTTP ${r.statusCode()}")
            }
        }
        throw BrowserException.Failed("too many redirects")
    }
}

/**
 * The authorization code flow (issue 12): the PID asked of the PID provider (the citizen's CIE
 * level 3 login through this file's BrowserStep), then the driving licence asked of the
 * Motorizzazione, which identifies the citizen by the PID presented to it; a declined PID
 * presentation; an issuer outside the federation refused before anything is sent; calls out of
 * order refused.
 */
fun authorizationCode(exe: String) {
    val root = Files.createTempDirectory("tessera-kotlin-authorization").toFile()
    Federation(exe).use { fed ->
        try {
            val keys = JvmKeyStore()
            val http = JvmHttpClient()
            val config = WalletConfig(root.path, listOf(fed.anchor), null, "it", emptyList(), fed.walletProvider, fed.issuanceRedirectUri)
            val wallet = Wallet.open(config, keys, http)
            runBlocking { wallet.finishActivation(browse(fed, wallet.startActivation(fed.redirectUri))) }

            // The PID: wallet-initiated, the login in the browser.
            val pidSession = runBlocking { wallet.startIssuanceFromIssuer(fed.pidIssuer, listOf(fed.pidConfiguration)) }
            val pc = pidSession.consent()
            check(pc.issuerId == fed.pidIssuer && pc.issuerName == "PID Provider (loopback)" && pc.trust is IssuerTrust.Trusted, "PID: the consent names the trusted PID provider")
            check(pidSession.nextStep() == IssuanceNextStep.Authorize, "PID: next step authorize")
            val early = assertThrows<WalletException.IssuanceOutOfOrder>("PID: accept is out of order") { runBlocking { pidSession.accept(null) } }
            check(early.call == "accept" && early.waitingFor == "authorize" && early.code() == "issuance_out_of_order", "out of order: names the call and what the session waits for")
            val citizen = JvmBrowserStep(fed.pidFiscalNumber, fed.pidAcr)
            val pidOut = runBlocking { pidSession.authorize(citizen) }
            val pid = ((pidOut as? AuthorizationOutcome.Completed)?.outcome as? IssuanceOutcome.Issued)?.credentials?.singleOrNull()
                ?: throw AssertionError("FAILED: PID not issued: $pidOut")
            check(citizen.opened.isNotEmpty() && citizen.opened.all { it.startsWith(fed.op + "/") }, "PID: the browser step opened the OpenID Provider")
            check(pid.vct == "urn:eudi:pid:it:1" && texts(pid.claims)["given_name"] == "Mario" && pid.issuer.entityId == fed.pidIssuer, "PID: issued and stored")
            check(pidSession.nextStep() == IssuanceNextStep.Done, "PID: done")
            assertThrows<WalletException.IssuanceClosed>("PID: authorize again") { runBlocking { pidSession.authorize(citizen) } }

            // The licence, from an authorization_code offer: the Motorizzazione asks for the PID.
            val session = runBlocking { wallet.startIssuance(fed.authorizationCodeOffer("RSSMRA80A10H501Z")) }
            check(session.nextStep() == IssuanceNextStep.Authorize && session.consent().txCode == null, "licence: an authorization_code offer is authorized")
            val unused = JvmBrowserStep("", "")
            val asked = runBlocking { session.authorize(unused) } as? AuthorizationOutcome.PresentPid
                ?: throw AssertionError("FAILED: the licence issuer did not ask for the PID")
            check(unused.opened.isEmpty(), "licence: no browser for a PID presentation")
            check(asked.consent.relyingParty.entityId == fed.issuer && asked.consent.satisfiable, "licence: the consent names the issuer as relying party")
            check(asked.consent.requests.single().candidates.map { it.credentialId } == listOf(pid.id), "licence: the stored PID can answer")
            check(asked.defaultChoice == listOf(ConsentSelection(asked.consent.requests.single().queryId, pid.id)), "licence: the default choice is the PID")
            check((session.nextStep() as? IssuanceNextStep.PresentPid)?.consent == asked.consent, "licence: next step present the PID")
            assertThrows<WalletException.IssuanceOutOfOrder>("licence: authorize again while the PID is asked") { runBlocking { session.authorize(unused) } }
            val signed = keys.signed.get()
            val licence = (runBlocking { session.presentPid(asked.defaultChoice) } as? IssuanceOutcome.Issued)?.credentials?.singleOrNull()
                ?: throw AssertionError("FAILED: licence not issued")
            check(keys.signed.get() > signed, "licence: the KB-JWT and the key proof signed by the JVM key store")
            check(licence.vct == "urn:eudi:mDL:it:1" && texts(licence.claims)["document_number"] == "RM5012345A", "licence: issued and stored")
            val log = wallet.transactions().takeLast(2).map { it.kind to it.counterparty }
            check(log == listOf(TransactionKind.PRESENTATION to fed.issuer, TransactionKind.ISSUANCE to fed.issuer), "licence: the presentation and the issuance logged")

            // Declined: nothing issued, the session over.
            val count = wallet.credentials().size
            val declined = runBlocking { wallet.startIssuanceFromIssuer(fed.issuer, listOf(fed.mdlConfiguration)) }
            check(runBlocking { declined.authorize(unused) } is AuthorizationOutcome.PresentPid, "decline: the PID asked")
            runBlocking { declined.declinePid() }
            check(declined.nextStep() == IssuanceNextStep.Done && wallet.credentials().size == count, "decline: nothing issued, done")
            check(wallet.transactions().last().kind == TransactionKind.DECLINED, "decline: logged")
            assertThrows<WalletException.IssuanceClosed>("decline: present after declining") { runBlocking { declined.presentPid(asked.defaultChoice) } }

            // Outside the federation: refused, nothing sent beyond reading its metadata.
            val outside = runBlocking { wallet.startIssuanceFromIssuer(fed.untrustedIssuer, listOf(fed.mdlConfiguration)) }
            check(outside.nextStep() is IssuanceNextStep.Refused, "untrusted: refused")
            val refused = assertThrows<WalletException.UntrustedIssuer>("untrusted: authorize") { runBlocking { outside.authorize(unused) } }
            check(refused.issuer == fed.untrustedIssuer && unused.opened.isEmpty(), "untrusted: names the issuer, no browser")
            val sent = http.urls.filter { it.startsWith(fed.untrustedIssuer) }
            check(sent.isNotEmpty() && sent.all { "/.well-known/" in it }, "untrusted: only its metadata and configuration read ($sent)")
        } finally {
            root.deleteRecursively()
        }
    }
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
        check(verifyEs256(keys.keys.getValue(holder.tag).public, "${kb[0]}.${kb[1]}", b64uDecode(kb[2])), "the KB-JWT signature verifies with java.security")
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

    presentation()

    val federation = System.getenv("TESSERA_LOOPBACK_FEDERATION")
        ?: throw AssertionError("FAILED: TESSERA_LOOPBACK_FEDERATION is not set (run mobile-bindings/tests/run.sh)")
    activation(federation)
    issuance(federation)
    authorizationCode(federation)
    println("kotlin: $checks checks passed")
}
