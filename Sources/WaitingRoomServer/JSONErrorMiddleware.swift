import Hummingbird
import NIOCore
import NIOHTTP1
import WaitingRoomTokens

/// Every error the gate answers is `{"error": "<code>", "message": "<text>"}`: errors thrown by routes that
/// are not ``APIError`` (Hummingbird's own 404 for unrouted paths, body limits, parser errors in a body,
/// anything unexpected) become one, and an error response with an empty body gets one. A HEAD request gets
/// the same status and headers with no body.
///
/// Add it to the router before any route (Hummingbird applies middleware to routes added after it):
/// ```swift
/// let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
/// router.add(middleware: JSONErrorMiddleware())
/// ```
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
            if response.status.code >= 400, response.body.contentLength == 0 {
                response = try ErrorBody.apiError(status: response.status).response(from: request, context: context)
            }
        } catch {
            response = try ErrorBody.apiError(for: error, request: request).response(from: request, context: context)
        }
        return request.method == .head ? response.createHeadResponse() : response
    }
}

/// The JSON error shape for statuses and errors that did not come with one.
enum ErrorBody {
    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: return "bad_request"
        case 401: return "unauthorized"
        case 403: return "forbidden"
        case 404: return "not_found"
        case 405: return "method_not_allowed"
        case 408: return "request_timeout"
        case 413: return "body_too_large"
        case 429: return "rate_limited"
        case 500: return "internal"
        case 503: return "unavailable"
        default: return "http_\(status.code)"
        }
    }

    static func apiError(status: HTTPResponse.Status) -> APIError {
        APIError(status, code(for: status), status.reasonPhrase.lowercased())
    }

    static func json(status: HTTPResponse.Status) -> String {
        #"{"error":"\#(code(for: status))","message":"\#(JSONText.escape(status.reasonPhrase.lowercased()))"}"#
    }

    static func apiError(for error: any Error, request: Request) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case is HTTPParserError:
            return APIError.badRequest("the request is malformed", code: "malformed_request")
        case let error as any HTTPResponseError where error.status == .notFound:
            return APIError.notFound("no route for \(request.method.rawValue) \(request.uri.path)")
        case let error as any HTTPResponseError:
            return apiError(status: error.status)
        default:
            return APIError(.internalServerError, "internal", "internal error")
        }
    }

    /// What a failed body read means: a body over the limit is 413, one that cannot be parsed (a malformed
    /// chunked encoding, say) is 400.
    static func bodyFailure(_ error: any Error, limit: Int) -> APIError {
        if error is NIOTooManyBytesError { return .tooLarge(limit) }
        if let error = error as? any HTTPResponseError, error.status == .contentTooLarge { return .tooLarge(limit) }
        if error is HTTPParserError { return .badRequest("the request body is malformed", code: "malformed_body") }
        return .badRequest("the request body could not be read", code: "malformed_body")
    }
}
