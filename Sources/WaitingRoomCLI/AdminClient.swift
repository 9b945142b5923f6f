import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `--url` and `--key`, shared by every command that talks to the ops API. Flags win over the environment
/// so a one-off call can point elsewhere without unsetting anything.
struct AdminOptions: ParsableArguments {
    @Option(help: "Base URL of the gate (default: $WAITROOM_ADMIN_URL or http://127.0.0.1:8080).")
    var url: String?

    @Option(help: "Admin API key (default: $WAITROOM_ADMIN_KEY).")
    var key: String?

    static let defaultURL = "http://127.0.0.1:8080"

    var resolvedURL: String {
        let base = url ?? ProcessInfo.processInfo.environment["WAITROOM_ADMIN_URL"] ?? Self.defaultURL
        // Tolerate a trailing slash so "$URL/admin/v1" never becomes "//admin/v1".
        return base.hasSuffix("/") ? String(base.dropLast()) : base
    }

    var resolvedKey: String? {
        key ?? ProcessInfo.processInfo.environment["WAITROOM_ADMIN_KEY"]
    }

    func validate() throws {
        guard let key = resolvedKey, !key.isEmpty else {
            throw ValidationError("no admin key: pass --key or set WAITROOM_ADMIN_KEY")
        }
        guard let parsed = URL(string: resolvedURL), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
            parsed.host != nil
        else {
            throw ValidationError("--url must be an http(s) URL, got '\(resolvedURL)'")
        }
    }

    func client() -> AdminClient {
        AdminClient(baseURL: resolvedURL, key: resolvedKey ?? "")
    }
}

/// A failure the CLI reports as `error: <message>` with exit code 1: an API error, an unreachable gate
/// or an answer it cannot read.
struct AdminError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }

    init(_ message: String) { self.message = message }

    /// Runs `body`, turning an `AdminError` into `error: …` on stderr and exit code 1. ArgumentParser's own
    /// reporting would print "Error: …" plus nothing useful; ops scripts grep for our lowercase form.
    static func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as AdminError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// A minimal JSON client for `/admin/v1`: one request per call, bearer key, API errors as `AdminError`.
struct AdminClient: Sendable {
    let baseURL: String
    let key: String

    /// What came back: the status and the raw body (kept raw so `--json` can print the API's answer as is).
    struct Reply: Sendable {
        var status: Int
        var body: Data
    }

    /// Sends one request and returns a 2xx reply; anything else throws an `AdminError` with the API's message.
    func send(_ method: HTTPMethod, _ path: String, body: Data? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }

        // Not `HTTPClient.shared`: its browser-like configuration retries refused connections until the
        // request deadline (and has a 90 s connect timeout), so a gate that is down would hang the command
        // instead of failing at once. A CLI makes one request, so a private client costs nothing.
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(5)
        configuration.timeout.read = .seconds(30)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)

        let reply: Reply
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 16 << 20)
            reply = Reply(status: Int(response.status.code), body: Data(buffer: bytes))
        } catch {
            try? await client.shutdown()
            throw AdminError("cannot reach the admin API at \(baseURL): \(Self.describe(error))")
        }
        try? await client.shutdown()

        guard (200..<300).contains(reply.status) else { throw Self.apiError(reply) }
        return reply
    }

    /// The API answers errors as `{"error": code, "message": text}`; fall back to the status for anything else
    /// (a proxy's HTML page, say).
    static func apiError(_ reply: Reply) -> AdminError {
        let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any]
        let code = object?["error"] as? String
        let message = object?["message"] as? String
        switch (code, message) {
        case (let code?, let message?) where reply.status == 401: return AdminError("\(code) (\(reply.status)): \(message)")
        case (_, let message?): return AdminError(message)
        case (let code?, nil): return AdminError("\(code) (HTTP \(reply.status))")
        default:
            let text = String(decoding: reply.body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return AdminError("HTTP \(reply.status)" + (text.isEmpty ? "" : ": \(text)"))
        }
    }

    /// Transport errors from NIO are precise but cryptic; name the common ones in plain words.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connection timed out"
            case .deadlineExceeded, .readTimeout: return "no answer in time"
            default: break
            }
        }
        let text = String(describing: error)
        if text.contains("refused") || text.contains("ECONNREFUSED") || text.contains("errno: 111") { return "connection refused" }
        return text
    }
}
