import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Synchronization

/// The HTTP/1 server with the gate's connection limits, as an `HTTPServerBuilder` for `Application(server:)`:
///
/// - an idle timeout: no request in progress for `idleTimeoutMs` closes the connection (a new connection
///   that sends nothing is idle from the start);
/// - a request read timeout: from a request's first byte to its last (head and body) — slow-loris
///   headers and trickled bodies are cut off, which an idle timeout alone would not do;
/// - a bound on unsent output: above `maxUnsentBytes` buffered for a client the connection reads no further
///   requests (backpressure), and output stuck there for `writeTimeoutMs` closes the connection — a client
///   that pipelines requests and never reads its answers cannot hold a connection (the kernel's socket
///   buffer comes on top of the bound);
///   (all three deadlines in ``ConnectionDeadlines``, which never cancels a timer: see there why;)
/// - a cap on open connections: beyond it a new connection gets `503` with a JSON body and is closed, and
///   the ones already open keep being served. With the cap below the descriptor limit, `accept` does not
///   fail with EMFILE; when descriptors run out anyway, NIO's `AcceptBackoffHandler` pauses accepting.
/// - requests whose head alone says no answered at once (``RequestFraming``: no Host, chunked HTTP/1.0, a body
///   over the limit, an unknown `Expect`), and `100 Continue` for `Expect: 100-continue`;
/// - the peer address stamped on each request (``ConnectionGuard/peerHeader``), for client limits;
/// - JSON bodies on error responses Hummingbird writes by itself (parser errors).
public struct ConnectionGuard: Sendable {
    /// Set on every request from the TCP peer address; any value the client sent is removed first.
    public static let peerHeader = HTTPField.Name("X-Waitroom-Peer")!

    public let deadlines: ConnectionTimeouts
    public let counter: ConnectionCounter
    /// Requests declaring a larger body are refused (413) from their head (``RequestFraming``).
    public let maxBodyBytes: Int

    public init(_ limits: HardeningConfiguration, maxBodyBytes: Int) {
        deadlines = ConnectionTimeouts(limits)
        counter = ConnectionCounter(limit: limits.effectiveMaxConnections)
        self.maxBodyBytes = maxBodyBytes
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
                counter: counter, timeouts: deadlines, maxBodyBytes: maxBodyBytes
            )
        }
    }
}

/// The per-connection deadlines and output bound, as the channel handlers take them.
public struct ConnectionTimeouts: Sendable {
    public let idle: TimeAmount
    public let read: TimeAmount
    public let write: TimeAmount
    /// The high-water mark of a connection's unsent output (its low-water mark is half of it).
    public let maxUnsentBytes: Int

    public init(_ limits: HardeningConfiguration) {
        idle = .milliseconds(Int64(limits.idleTimeoutMs))
        read = .milliseconds(Int64(limits.readTimeoutMs))
        write = .milliseconds(Int64(limits.writeTimeoutMs))
        maxUnsentBytes = limits.maxUnsentBytes
    }
}

/// Open connections against a limit; lock-free (one atomic), shared by every event loop.
public final class ConnectionCounter: Sendable {
    public let limit: Int
    /// Refused connections that may wait for their client to hang up at once (see ``tryLinger()``).
    public let lingerLimit: Int
    private let open = Atomic<Int>(0)
    private let refusedTotal = Atomic<Int>(0)
    private let lingering = Atomic<Int>(0)

    public init(limit: Int, lingerLimit: Int = 32) {
        self.limit = limit
        self.lingerLimit = lingerLimit
    }

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

    /// Whether a refused connection may keep its descriptor a little longer, so that the client reads its
    /// 503 rather than a reset. Few may: in a flood every refusal that lingers holds a descriptor beyond
    /// the cap, and once they have eaten the descriptors the cap leaves free, `accept` fails with EMFILE
    /// and the connections behind them in the backlog get no answer at all. The others close as soon as
    /// their 503 is written.
    func tryLinger() -> Bool {
        let (_, now) = lingering.add(1, ordering: .relaxed)
        guard now <= lingerLimit else {
            lingering.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func lingerEnded() { lingering.subtract(1, ordering: .relaxed) }
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
    let timeouts: ConnectionTimeouts
    let maxBodyBytes: Int

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard counter.tryOpen() else {
            // Never fail the setup: a failed child initializer would end the server's accept loop.
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RefuseConnectionHandler(counter: self.counter))
                return Value(channel: channel, http: nil)
            }
        }
        let counter = self.counter
        channel.closeFuture.whenComplete { _ in counter.close() }
        return channel.eventLoop.makeCompletedFuture {
            let high = timeouts.maxUnsentBytes
            try channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: high / 2, high: high))
            // First in the pipeline (next to the socket): it sees the raw bytes of each request and the
            // socket's writability; next to it, no reads while the output is above its high-water mark.
            try channel.pipeline.syncOperations.addHandler(
                ConnectionDeadlineHandler(idleTimeout: timeouts.idle, readTimeout: timeouts.read, writeTimeout: timeouts.write)
            )
            try channel.pipeline.syncOperations.addHandler(BackPressureHandler())
        }.flatMap {
            inner.setup(channel: channel, logger: logger)
        }.flatMapThrowing { http in
            // Right after the HTTP/1 decoder, where the request's version is still known.
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(RequestFramingHandler(maxBodyBytes: maxBodyBytes), position: .after(decoder))
            return Value(channel: channel, http: http)
        }
    }

    func handle(value: Value, logger: Logger) async {
        guard let http = value.http else { return }
        await inner.handle(value: http, logger: logger)
    }
}

/// Over the cap: answer 503 at once, stop writing, and close when the client hangs up or shortly after
/// (a short wait, so the client reads the 503 instead of a reset; short, and only for a few refusals at a
/// time (``ConnectionCounter/tryLinger()``), so refusals cannot hold the descriptors the cap leaves free).
final class RefuseConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let response: String = {
        let body = #"{"error":"overloaded","message":"too many connections to this instance; retry shortly"}"#
        return "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\nx-content-type-options: nosniff\r\n"
            + "retry-after: 1\r\nconnection: close\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
    }()

    private let counter: ConnectionCounter
    private var started = false

    init(counter: ConnectionCounter) { self.counter = counter }

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
        let write = context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: Self.response)))
        guard counter.tryLinger() else {
            let channel = context.channel
            write.whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let counter = self.counter
        context.channel.closeFuture.whenComplete { _ in counter.lingerEnded() }
        GentleClose.afterWrite(write, channel: context.channel, linger: .milliseconds(500))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Closing after a last answer without losing it: the output first (the client reads the answer and an
/// end of stream, not a reset for unread input), the whole connection when the client hangs up (the
/// handler that wrote the answer closes on `inputClosed`) or after `linger`.
enum GentleClose {
    static func afterWrite(_ write: EventLoopFuture<Void>, channel: any Channel, linger: TimeAmount) {
        write.whenComplete { _ in channel.close(mode: .output, promise: nil) }
        channel.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
    }
}
