import Foundation
import Hummingbird
import Logging
import NIOCore
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// Response builders shared by every route.
enum Responses {
    /// A JSON answer; an error status also gets `nosniff` (as every JSON error does).
    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if status.code >= 400 { headers[.xContentTypeOptions] = "nosniff" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// An HTML page with its security headers (CSP by its template's script hashes, frame-ancestors,
    /// nosniff, referrer).
    static func html(status: HTTPResponse.Status, _ text: String, scriptHashes: [String]) -> Response {
        PageSecurity.page(status: status, text, scriptHashes: scriptHashes)
    }

    static func encode(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return json(String(decoding: try encoder.encode(value), as: UTF8.self), status: status)
    }
}

/// Reading what a request carries: bounded bodies, strict JSON, bearer credentials, room names.
struct RequestReader: Sendable {
    let maxBodyBytes: Int

    /// Reads a body up to the configured limit: 413 beyond it.
    func body(_ request: Request) async throws(APIError) -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            throw ErrorBody.bodyFailure(error, limit: maxBodyBytes)
        }
    }

    /// The body as a JSON object whose values keep their JSON types (a boolean is never a number).
    func jsonObject(_ request: Request) async throws(APIError) -> [String: JSONValue] {
        try Self.jsonObject(try await self.body(request))
    }

    /// A body read as a JSON object, strictly: a key written twice in any object is refused (parsers
    /// disagree on which copy wins, so the gate and whatever else reads the body could disagree).
    static func jsonObject(_ body: ByteBuffer) throws(APIError) -> [String: JSONValue] {
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(buffer: body)) else {
            throw .badRequest("body must be a JSON object", code: "malformed_json")
        }
        if let key = JSONDuplicateKeys.first(in: body.readableBytesView) {
            throw .badRequest("the key \(key) appears twice in one object", code: "duplicate_key")
        }
        return object
    }

    /// The credential of `Authorization: Bearer <credential>` (scheme case-insensitive, no copies of the
    /// header made: this runs on every poll).
    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        var bytes = header.utf8.makeIterator()
        for expected in "bearer ".utf8 {
            guard let byte = bytes.next(), byte | 0x20 == expected else { return nil }
        }
        let credential = header.utf8.dropFirst(7).drop { $0 == UInt8(ascii: " ") }
        return credential.isEmpty ? nil : String(Substring(credential))
    }

    static func roomName(_ context: some RequestContext) throws(APIError) -> String {
        guard let name = context.parameters.get("room"), RoomName.isValid(name) else {
            throw .badRequest("room: must be 1-64 of a-z, 0-9, - and _, starting with a letter or digit", code: "invalid_room")
        }
        return name
    }
}

/// Maps store failures to HTTP: Redis unreachable, or answering a retryable error (`LOADING`, `BUSY`, …), is
/// a 503 with `Retry-After`; an unexpected reply is a 500 whose reason is logged at most once a second
/// (never a guess such as 404).
struct StoreFailures: Sendable {
    let metrics: GateMetrics
    let logger: Logger
    let log = LogThrottle(interval: .seconds(1))

    func response(for error: any Error) -> APIError {
        metrics.redisErrors.increment()
        if let error = error as? StoreError, case .corrupt(let why) = error {
            if let suppressed = log.admit() {
                logger.error("store returned unexpected data", metadata: ["error": "\(why)", "suppressed": "\(suppressed)"])
            }
            return APIError(.internalServerError, "internal", "unexpected store reply")
        }
        return .unavailable
    }
}

/// 401 unless the request carries the key as a bearer token (constant-time compare). Says nothing else.
/// Guards the admin and service route groups.
struct BearerKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try Self.check(request, key: key)
        return try await next(request, context)
    }

    static func check(_ request: Request, key: String?) throws(APIError) {
        guard let key, let presented = RequestReader.bearer(request), SecretComparison.equals(presented, key) else {
            throw APIError.unauthorized("missing or wrong key")
        }
    }
}

/// The HTML pages, loaded once from the module's resources.
struct Pages: Sendable {
    let wait: WaitPage
    /// The waiting page built ahead of the requests, per room and language.
    let waitCache: WaitPageCache
    let dashboard: StaticPage

    /// The built-in pages, or the waiting page from `templatesDirectory` (`wait.html`, and `strings.json`
    /// when present): checked here, at start-up, so an unknown placeholder or a string table missing a
    /// language stops the gate with a message instead of showing blanks to shoppers.
    init(templatesDirectory: String? = nil) throws(ConfigurationError) {
        do {
            if let directory = templatesDirectory {
                let template = try String(contentsOfFile: directory + "/wait.html", encoding: .utf8)
                let strings = FileManager.default.fileExists(atPath: directory + "/strings.json")
                    ? try Data(contentsOf: URL(fileURLWithPath: directory + "/strings.json")) : try WaitPage.builtInStrings()
                wait = try WaitPage(template: template, strings: strings)
            } else {
                // Built in: the template and the string table are checked against each other by the tests.
                wait = try WaitPage.builtIn()
            }
        } catch {
            throw ConfigurationError(key: "WAITROOM_TEMPLATES_DIR", reason: "\(templatesDirectory ?? "built-in page"): \(error)")
        }
        waitCache = WaitPageCache(page: wait)
        let dashboard = Bundle.module.url(forResource: "dashboard", withExtension: "html", subdirectory: "Resources")
            .flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "<!doctype html><title>WaitingRoom</title><p>page missing</p>"
        self.dashboard = StaticPage(html: dashboard, scriptHashes: (try? PageSecurity.scriptHashes(of: dashboard)) ?? [])
    }
}

/// A page served as it is, with its inline scripts' hashes taken once.
struct StaticPage: Sendable {
    let html: String
    let scriptHashes: [String]

    var response: Response { Responses.html(status: .ok, html, scriptHashes: scriptHashes) }
}
