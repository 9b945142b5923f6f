import COpenSSL

/// A failure inside OpenSSL, with the library's own error text.
public struct OpenSSLError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let reason: String

    public var description: String { "OpenSSL \(operation) failed: \(reason)" }

    /// Captures (and clears) OpenSSL's thread-local error queue.
    static func capture(_ operation: String) -> OpenSSLError {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return OpenSSLError(operation: operation, reason: reasons.isEmpty ? "unknown error" : reasons.joined(separator: "; "))
    }
}

/// The one layer that calls libcrypto. Raw pointers stay in here; failures become ``OpenSSLError``.
enum OpenSSL {
    static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        // RAND_bytes only fails when the OS entropy source is broken; nothing sensible can continue then.
        precondition(RAND_bytes(&bytes, Int32(count)) == 1, "\(OpenSSLError.capture("RAND_bytes"))")
        return bytes
    }

    static func sha256(_ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        precondition(EVP_Digest(data, data.count, &digest, &length, EVP_sha256(), nil) == 1, "\(OpenSSLError.capture("EVP_Digest"))")
        return digest
    }

    /// Compares in time that depends only on the length, so a MAC cannot be guessed byte by byte.
    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return CRYPTO_memcmp(lhs, rhs, lhs.count) == 0
    }

    // MARK: Ed25519

    /// An `EVP_PKEY` built once and shared by every sign / verify call.
    final class Key: @unchecked Sendable {
        let pointer: OpaquePointer

        init(pointer: OpaquePointer) { self.pointer = pointer }
        deinit { EVP_PKEY_free(pointer) }
    }

    static func ed25519PrivateKey(raw: [UInt8]) throws(OpenSSLError) -> Key {
        guard raw.count == 32, let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, raw, raw.count) else {
            throw .capture("EVP_PKEY_new_raw_private_key")
        }
        return Key(pointer: key)
    }

    static func ed25519PublicKey(raw: [UInt8]) throws(OpenSSLError) -> Key {
        guard raw.count == 32, let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, raw, raw.count) else {
            throw .capture("EVP_PKEY_new_raw_public_key")
        }
        return Key(pointer: key)
    }

    /// Reads a PEM private key (PKCS#8, as `openssl genpkey -algorithm ed25519` writes) and returns its raw seed.
    static func ed25519Seed(fromPEM pem: String) throws(OpenSSLError) -> [UInt8] {
        let bytes = Array(pem.utf8)
        let key: OpaquePointer? = bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let key else { throw .capture("PEM_read_bio_PrivateKey") }
        defer { EVP_PKEY_free(key) }
        guard EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 else {
            throw OpenSSLError(operation: "PEM key", reason: "not an Ed25519 key")
        }
        var seed = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_private_key(key, &seed, &length) == 1, length == 32 else {
            throw .capture("EVP_PKEY_get_raw_private_key")
        }
        return seed
    }

    static func pkcs8PEM(_ key: Key) throws(OpenSSLError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .capture("BIO_new") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, key.pointer, nil, nil, 0, nil, nil) == 1 else {
            throw .capture("PEM_write_bio_PrivateKey")
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while case let count = BIO_read(bio, &chunk, Int32(chunk.count)), count > 0 {
            output.append(contentsOf: chunk[0..<Int(count)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func rawPublicKey(_ key: Key) throws(OpenSSLError) -> [UInt8] {
        var raw = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(key.pointer, &raw, &length) == 1, length == 32 else {
            throw .capture("EVP_PKEY_get_raw_public_key")
        }
        return raw
    }

    static func sign(_ message: [UInt8], with key: Key) -> [UInt8] {
        let context = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(context) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        // Signing with a valid Ed25519 key cannot fail short of memory exhaustion.
        precondition(
            EVP_DigestSignInit(context, nil, nil, nil, key.pointer) == 1
                && EVP_DigestSign(context, &signature, &length, message, message.count) == 1,
            "\(OpenSSLError.capture("EVP_DigestSign"))"
        )
        return signature
    }

    static func verify(_ signature: [UInt8], of message: [UInt8], with key: Key) -> Bool {
        guard signature.count == 64 else { return false }
        let context = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key.pointer) == 1 else {
            ERR_clear_error()
            return false
        }
        let valid = EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
        if !valid { ERR_clear_error() }
        return valid
    }

    // MARK: HMAC-SHA256

    /// An HMAC context keyed once; every MAC starts from a copy of it.
    final class MACTemplate: @unchecked Sendable {
        private let mac: OpaquePointer
        private let template: OpaquePointer

        init(key: [UInt8]) throws(OpenSSLError) {
            guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { throw .capture("EVP_MAC_fetch") }
            guard let template = EVP_MAC_CTX_new(mac) else {
                EVP_MAC_free(mac)
                throw .capture("EVP_MAC_CTX_new")
            }
            self.mac = mac
            self.template = template
            // An OSSL_PARAM holds pointers to its name and value, read later by EVP_MAC_init: both C strings must
            // live until then. The Swift string `OSSL_MAC_PARAM_DIGEST` passed straight in became a temporary C
            // string, freed as soon as OSSL_PARAM_construct_utf8_string returned (AddressSanitizer:
            // heap-use-after-free in OSSL_PARAM_locate under EVP_MAC_init, debug build; issue 19).
            let parameterName = Array(OSSL_MAC_PARAM_DIGEST.utf8CString)
            var digestName = Array("SHA256".utf8CString)
            let initialised = parameterName.withUnsafeBufferPointer { parameter -> Int32 in
                digestName.withUnsafeMutableBufferPointer { name -> Int32 in
                    let parameters = [
                        OSSL_PARAM_construct_utf8_string(parameter.baseAddress, name.baseAddress, 0),
                        OSSL_PARAM_construct_end(),
                    ]
                    return EVP_MAC_init(template, key, key.count, parameters)
                }
            }
            guard initialised == 1 else { throw .capture("EVP_MAC_init") }
        }

        deinit {
            EVP_MAC_CTX_free(template)
            EVP_MAC_free(mac)
        }

        func authenticate(_ message: UnsafeRawBufferPointer) -> [UInt8] {
            let context = EVP_MAC_CTX_dup(template)
            defer { EVP_MAC_CTX_free(context) }
            var output = [UInt8](repeating: 0, count: 32)
            var length = 0
            precondition(
                context != nil
                    && EVP_MAC_update(context, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count) == 1
                    && EVP_MAC_final(context, &output, &length, output.count) == 1,
                "\(OpenSSLError.capture("EVP_MAC"))"
            )
            return output
        }
    }
}
