import Foundation

/// A throwaway PKI for TLS tests, made with the `openssl` command in a temporary directory: a CA, a server
/// certificate for `localhost` and `127.0.0.1` signed by it, a client certificate signed by it, and a second,
/// unrelated CA (to prove a wrong CA is refused).
///
/// ```swift
/// let certificates = try TestCertificates.make()
/// let server = try await TestRedisServer.start(tls: certificates)
/// ```
public struct TestCertificates: Sendable {
    public let directory: URL
    public var caFile: String { path("ca.pem") }
    public var serverCertificateFile: String { path("server.pem") }
    public var serverKeyFile: String { path("server.key") }
    public var clientCertificateFile: String { path("client.pem") }
    public var clientKeyFile: String { path("client.key") }
    /// A CA that signed nothing here.
    public var otherCAFile: String { path("other-ca.pem") }

    /// Made once per test process (key generation is the slow part).
    public static func shared() throws -> TestCertificates {
        try sharedCertificates.get()
    }

    private static let sharedCertificates = Result { try TestCertificates.make() }

    public static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("waitroom-test-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        try certificates.generate()
        return certificates
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func generate() throws {
        for ca in ["ca", "other-ca"] {
            try openssl([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=waitroom test \(ca)", "-keyout", path("\(ca).key"), "-out", path("\(ca).pem"),
            ])
        }
        try issue("server", subject: "/CN=localhost", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        try issue("client", subject: "/CN=waitroom-gate", extensions: "extendedKeyUsage=clientAuth\n")
    }

    private func issue(_ name: String, subject: String, extensions: String) throws {
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject,
            "-keyout", path("\(name).key"), "-out", path("\(name).csr"),
        ])
        try ("basicConstraints=CA:FALSE\n" + extensions).write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
            "-days", "2", "-extfile", path("\(name).ext"), "-out", path("\(name).pem"),
        ])
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}
