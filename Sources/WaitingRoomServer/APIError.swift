import Hummingbird
import NIOCore
import WaitingRoomStore
import WaitingRoomTokens

/// An error the HTTP layer turns into `{"error": "<code>", "message": "<text>"}` with the right status.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var retryAfterSeconds: Int?
    /// A machine-readable detail beside the code (e.g. how an admission ended), as `"reason"`.
    public var reason: String?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfterSeconds: Int? = nil, reason: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
        self.reason = reason
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store", .xContentTypeOptions: "nosniff"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        let reasonJSON = reason.map { #","reason":"\#(JSONText.escape($0))""# } ?? ""
        let body = #"{"error":"\#(JSONText.escape(code))","message":"\#(JSONText.escape(message))"\#(reasonJSON)}"#
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func badRequest(_ message: String, code: String = "bad_request") -> APIError { APIError(.badRequest, code, message) }
    static func unauthorized(_ message: String, code: String = "unauthorized") -> APIError { APIError(.unauthorized, code, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    /// The admission is over: released (checkout left or timed out), consumed (an order was placed) or expired.
    static func admissionEnded(_ end: AdmissionEnd) -> APIError {
        switch end {
        case .released: APIError(.conflict, "admission_ended", "this admission was released: the checkout is over", reason: end.rawValue)
        case .consumed: APIError(.conflict, "already_used", "this admission token has already been used", reason: end.rawValue)
        case .expired: APIError(.conflict, "admission_ended", "this admission's session is over", reason: end.rawValue)
        }
    }
    static let unavailable = APIError(.serviceUnavailable, "unavailable", "the queue store is unreachable; retry shortly", retryAfterSeconds: 2)
    static func tooLarge(_ limit: Int) -> APIError { APIError(.contentTooLarge, "body_too_large", "request body is over \(limit) bytes") }
}
