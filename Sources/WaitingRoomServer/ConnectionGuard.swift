import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The HTTP/1 server with the gate's connection limits, as an `HTTPServerBuilder` for `Application(server:)`:
///
/// - an idle timeout (Hummingbird's own: no request in progress for `idleTimeoutMs` closes the connection;
///   a new connection that sends nothing is idle from the start);
/// - a request read timeout: from a request's first byte to its last (head and body) — slow-loris
///   headers and trickled bodies are cut off, which the idle timeout alone would not do;
/// - a cap on open connections: beyond it a new connection gets `503` with a JSON body and is closed, and
///   the ones already open keep being served. With the cap below the descriptor limit, `accept` does not
///   fail with EMFILE; when descriptors run out anyway, NIO's `AcceptBackoffHandler` pauses accepting.
/// - the peer address stamped on each request (``ConnectionGuard/peerHeader``), for client limits;
/// - JSON bodies on error responses Hummingbird writes by itself (parser errors).
public struct ConnectionGuard: Sendable {
    /// Set on every request from the TCP peer address; any value the client sent is removed first.
    public static let peerHeader = HTTPField.Name("X-Waitroom-Peer")!

    public let idleTimeout: TimeAmount
    public let readTimeout: TimeAmount
    public let counter: ConnectionCounter

    public init(idleTimeoutMs: Int, readTimeoutMs: Int, maxConnections: Int) {
        idleTimeout = .milliseconds(Int64(idleTimeoutMs))
        readTimeout = .milliseconds(Int64(readTimeoutMs))
        counter = ConnectionCounter(limit: maxConnections)
    }

    public init(_ limits: HardeningConfiguration) {
        self.init(idleTimeoutMs: limits.idleTimeoutMs, readTimeoutMs: limits.readTimeoutMs, maxConnections: limits.effectiveMaxConnections)
    }

    /// For `Application(router:server:...)`.
    public var server: HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedHTTP1Channel(
                inner: HTTP1Channel(
                    responder: responder,
                    configuration: .init(additionalChannelHandlers: [RequestEdgeHandler()], idleTimeout: idleTimeout)
                ),
                counter: counter, readTimeout: readTimeout
            )
        }
    }
}

/// Open connections against a limit; lock-free (one atomic), shared by every event loop.
public final class ConnectionCounter: Sendable {
    public let limit: Int
    private let open = Atomic<Int>(0)
    private let refusedTotal = Atomic<Int>(0)

    public init(limit: Int) { self.limit = limit }

    /// Connections open now (accepted and not yet closed, refused ones excluded).
    public var current: Int { open.load(ordering: .relaxed) }
    /// Connections refused because the cap was reached, since start.
    public var refused: Int { refusedTotal.load(ordering: .relaxed) }

    func tryOpen() -> Bool {
        let (_, now) = open.add(1, ordering: .relaxed)
        guard now <= limit else {
            open.subtract(1, ordering: .relaxed)
            refusedTotal.add(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func close() { open.subtract(1, ordering: .relaxed) }
}

/// HTTP1Channel with a connection cap and a request read deadline in front.
struct GuardedHTTP1Channel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
        /// Nil for a refused connection: nothing to serve.
        let http: HTTP1Channel.Value?
    }

    let inner: HTTP1Channel
    let counter: ConnectionCounter
    let readTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard counter.tryOpen() else {
            // Never fail the setup: a failed child initializer would end the server's accept loop.
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RefuseConnectionHandler())
                return Value(channel: channel, http: nil)
            }
        }
        let counter = self.counter
        channel.closeFuture.whenComplete { _ in counter.close() }
        return channel.eventLoop.makeCompletedFuture {
            // First in the pipeline (next to the socket): it sees the raw bytes of each request.
            try channel.pipeline.syncOperations.addHandler(RequestReadDeadlineHandler(timeout: readTimeout))
        }.flatMap {
            inner.setup(channel: channel, logger: logger)
        }.map { Value(channel: channel, http: $0) }
    }

    func handle(value: Value, logger: Logger) async {
        guard let http = value.http else { return }
        await inner.handle(value: http, logger: logger)
    }
}

/// Sent toward the socket by ``RequestEdgeHandler`` when a request has been read to its end.
struct RequestReadComplete {}

/// Closes a connection whose request does not arrive whole within `timeout` of its first byte.
final class RequestReadDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if deadline == nil {
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is RequestReadComplete else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        deadline?.cancel()
        deadline = nil
        promise?.succeed(())
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}

/// After HTTP decoding: stamps the peer address on each request head, tells the read deadline when a
/// request is complete, and gives JSON bodies to the empty error responses Hummingbird writes itself
/// (a request it cannot parse gets `400` with `Content-Length: 0`).
final class RequestEdgeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var peer: String?
    private var fillingErrorBody: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            if peer == nil { peer = context.channel.remoteAddress?.ipAddress ?? "" }
            head.headerFields[ConnectionGuard.peerHeader] = nil
            if let peer, !peer.isEmpty { head.headerFields[ConnectionGuard.peerHeader] = peer }
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .end:
            context.triggerUserOutboundEvent(RequestReadComplete(), promise: nil)
            context.fireChannelRead(data)
        case .body:
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 400 && head.headerFields[.contentLength] == "0":
            let body = ErrorBody.json(status: head.status)
            head.headerFields[.contentLength] = String(body.utf8.count)
            head.headerFields[.contentType] = "application/json; charset=utf-8"
            fillingErrorBody = context.channel.allocator.buffer(string: body)
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end(let trailers):
            if let body = fillingErrorBody {
                fillingErrorBody = nil
                context.write(wrapOutboundOut(.body(body)), promise: nil)
            }
            context.write(wrapOutboundOut(.end(trailers)), promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }
}

/// Over the cap: answer 503 at once, stop writing, and close when the client hangs up or shortly after
/// (a short wait, so the client reads the 503 instead of a reset; short, so refusals cannot hold
/// descriptors for long).
final class RefuseConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let response: String = {
        let body = #"{"error":"overloaded","message":"too many connections to this instance; retry shortly"}"#
        return "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
    }()

    private var started = false

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context)
        context.fireChannelActive()
    }

    private func refuse(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let channel = context.channel
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: Self.response))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
        context.eventLoop.scheduleTask(in: .milliseconds(500)) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
