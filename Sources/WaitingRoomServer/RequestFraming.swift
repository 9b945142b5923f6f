import Foundation
import NIOCore
import NIOHTTP1
import WaitingRoomTokens

/// What the HTTP/1 parser lets through but the gate answers at once, from the request head alone, before
/// any route sees it (RFC 9112 / RFC 9110):
///
/// - HTTP/1.1 without exactly one `Host`: 400;
/// - a `Transfer-Encoding` on HTTP/1.0, which has no chunked coding: 400 (a proxy in front and the gate
///   could frame the body differently: the request-smuggling shape);
/// - a declared `Content-Length` over the body limit: 413 at once, instead of waiting for a body that is
///   never read (the client would hang until the read timeout);
/// - `Expect: 100-continue` with an acceptable size: `100 Continue` before the final answer, so a client that
///   waits for it sends its body; any other expectation: 417. (HTTP/1.0 requests' `Expect` is ignored.)
///
/// Pure: the head in, a verdict out; ``RequestFramingHandler`` applies it on a channel.
enum RequestFraming {
    enum Verdict: Equatable {
        case pass
        /// Pass, and tell the client to send its body.
        case continueFirst
        case refuse(HTTPResponseStatus, code: String, message: String)
    }

    static func check(_ head: HTTPRequestHead, maxBodyBytes: Int) -> Verdict {
        let http11 = head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)
        if http11, head.headers["host"].count != 1 {
            return .refuse(.badRequest, code: "missing_host", message: "an HTTP/1.1 request needs exactly one Host header")
        }
        if !http11, head.headers.contains(name: "transfer-encoding") {
            return .refuse(.badRequest, code: "bad_framing", message: "Transfer-Encoding needs HTTP/1.1")
        }
        // The parser has checked the value's form already (digits; copies that agree).
        if let length = head.headers.first(name: "content-length").flatMap({ UInt64($0.trimmingCharacters(in: .whitespaces)) }), length > UInt64(maxBodyBytes) {
            return .refuse(.payloadTooLarge, code: "body_too_large", message: "request body is over \(maxBodyBytes) bytes")
        }
        let expectations = head.headers["expect"]
        guard http11, !expectations.isEmpty else { return .pass }
        guard expectations.count == 1, expectations[0].trimmingCharacters(in: .whitespaces).lowercased() == "100-continue" else {
            return .refuse(.expectationFailed, code: "expectation_failed", message: "the only expectation understood is 100-continue")
        }
        return .continueFirst
    }

    /// The refusal as raw response parts: a JSON error body, `nosniff`, and `Connection: close`.
    static func response(_ status: HTTPResponseStatus, code: String, message: String, version: HTTPVersion) -> (HTTPResponseHead, String) {
        let body = #"{"error":"\#(JSONText.escape(code))","message":"\#(JSONText.escape(message))"}"#
        let headers: HTTPHeaders = [
            "content-type": "application/json; charset=utf-8", "x-content-type-options": "nosniff", "cache-control": "no-store",
            "connection": "close", "content-length": String(body.utf8.count),
        ]
        return (HTTPResponseHead(version: version.major == 1 && version.minor == 0 ? .http1_0 : .http1_1, status: status, headers: headers), body)
    }
}

/// Applies ``RequestFraming`` between the HTTP/1 decoder (it needs the request's version, which the
/// conversion to HTTP types drops) and the rest of the pipeline.
///
/// Requests may be pipelined, and the application answers them in order; this handler counts the
/// requests it passed on whose answers have not ended, so that what it writes itself never lands inside
/// another answer: a `100 Continue` goes out when its request is the oldest unanswered one, a refusal when
/// every earlier answer has ended. A refused request and everything after it is dropped; after the refusal
/// the connection closes.
final class RequestFramingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let maxBodyBytes: Int
    /// Requests passed on and not yet answered to their end, oldest first: whether each is owed a `100 Continue`.
    private var unanswered: [(owesContinue: Bool, version: HTTPVersion)] = []
    /// A refusal waiting for the earlier answers to end.
    private var refusal: (head: HTTPResponseHead, body: String)?
    private var refusing = false

    init(maxBodyBytes: Int) { self.maxBodyBytes = maxBodyBytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusing else { return }
        guard case .head(let head) = unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        switch RequestFraming.check(head, maxBodyBytes: maxBodyBytes) {
        case .pass:
            unanswered.append((false, head.version))
            context.fireChannelRead(data)
        case .continueFirst:
            unanswered.append((true, head.version))
            context.fireChannelRead(data)
            sendContinueIfDue(context)
        case .refuse(let status, let code, let message):
            refusing = true
            refusal = RequestFraming.response(status, code: code, message: message, version: head.version)
            refuseIfDue(context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data), !unanswered.isEmpty else { return }
        unanswered.removeFirst()
        sendContinueIfDue(context)
        refuseIfDue(context)
    }

    private func sendContinueIfDue(_ context: ChannelHandlerContext) {
        guard let oldest = unanswered.first, oldest.owesContinue else { return }
        unanswered[0].owesContinue = false
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: oldest.version, status: .continue))), promise: nil)
    }

    private func refuseIfDue(_ context: ChannelHandlerContext) {
        guard unanswered.isEmpty, let (head, body) = refusal else { return }
        refusal = nil
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        GentleClose.afterWrite(written, channel: context.channel, linger: .seconds(1))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if refusing, let event = event as? ChannelEvent, case .inputClosed = event {
            // The client has hung up after its refused request: nothing more to say.
            if refusal == nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
