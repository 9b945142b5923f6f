import Hummingbird
import NIOCore
import WaitingRoomTokens

/// A request context that can carry verified admission claims to the route.
public protocol AdmissionRequestContext: RequestContext {
    var admission: AdmissionClaims? { get set }
}

/// Checks the admission token on every request: `Authorization: Bearer <token>` or `?wr_token=<token>`.
/// Answers 401 (missing or invalid) or 403 (another room, expired) with a JSON error; otherwise the route
/// finds the claims in `context.admission`.
public struct AdmissionMiddleware<Context: AdmissionRequestContext>: RouterMiddleware {
    let verifier: AdmissionVerifier
    let room: String?

    /// - Parameter room: when set, only tokens for this room are accepted.
    public init(verifier: AdmissionVerifier, room: String? = nil) {
        self.verifier = verifier
        self.room = room
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        do {
            context.admission = try await verifier.verify(Self.token(in: request), room: room)
        } catch {
            let body = JSONText.errorBody(code: error.code, message: error.description)
            return Response(
                status: .init(code: error.status),
                headers: [.contentType: "application/json", .xContentTypeOptions: "nosniff"],
                body: .init(byteBuffer: ByteBuffer(string: body))
            )
        }
        return try await next(request, context)
    }

    /// The token a request carries: `Authorization: Bearer` first, then the `wr_token` query parameter.
    public static func token(in request: Request) -> String? {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            return String(header.dropFirst(7))
        }
        return request.uri.queryParameters["wr_token"].map(String.init)
    }
}
