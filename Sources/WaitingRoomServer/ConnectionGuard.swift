import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The HTTP/1 server with the gate's connection limits, as an `HTTPServerBuilder` for `Application(server:)`:
///
/// - an idle timeout: no request in progress for `idleTimeoutMs` closes the connection (a new connection
///   that sends nothing is idle from the start);
/// - a request read timeout: from a request's first byte to its last (head and body) — slow-loris
///   headers and trickled bodies are cut off, which an idle timeout alone would not do;
///   (both in ``ConnectionDeadlines``, which never cancels a timer: see there why;)
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
                    // Idle and read deadlines are ours (ConnectionDeadlineHandler), not Hummingbird's idle timer,
                    // which cancels a timer per connection (a linear search with many connections open).
                    configuration: .init(additionalChannelHandlers: [RequestEdgeHandler()], idleTimeout: nil)
                ),
                counter: counter, idleTimeout: idleTimeout, readTimeout: readTimeout
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
    let idleTimeout: TimeAmount
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
            try channel.pipeline.syncOperations.addHandler(ConnectionDeadlineHandler(idleTimeout: idleTimeout, readTimeout: readTimeout))
        }.flatMap {
            inner.setup(channel: channel, logger: logger)
        }.map { Value(channel: channel, http: $0) }
    }

    func handle(value: Value, logger: Logger) async {
        guard let http = value.http else { return }
        await inner.handle(value: http, logger: logger)
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
