import Hummingbird
import NIOCore

/// An error the HTTP layer turns into `{"error": "<code>", "message": "<text>"}` with the right status.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var retryAfterSeconds: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        let body = #"{"error":"\#(JSONText.escape(code))","message":"\#(JSONText.escape(message))"}"#
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func badRequest(_ message: String, code: String = "bad_request") -> APIError { APIError(.badRequest, code, message) }
    static func unauthorized(_ message: String, code: String = "unauthorized") -> APIError { APIError(.unauthorized, code, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static let unavailable = APIError(.serviceUnavailable, "unavailable", "the queue store is unreachable; retry shortly", retryAfterSeconds: 2)
    static func tooLarge(_ limit: Int) -> APIError { APIError(.contentTooLarge, "body_too_large", "request body is over \(limit) bytes") }
}

enum JSONText {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
