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

/// Sent toward the socket by ``RequestEdgeHandler`` when a request has been read to its end.
struct RequestReadComplete {}

/// The idle and read deadlines of one connection as a pure state machine (events in, actions out), so
/// it is tested without a channel.
///
/// - idle: no request in progress (none being read, none being answered) for `idleTimeout` — from the
///   connection's start, or from the end of the last response;
/// - read: a request not read whole (head and body) within `readTimeout` of its first byte.
///
/// It never asks to cancel a timer: NIO cancels a scheduled task with a linear search of the event
/// loop's timer heap, which with thousands of idle connections would tax every request and every close.
/// Instead a timer is scheduled only for a deadline earlier than any already pending; a timer that fires
/// re-checks the state and closes, re-arms for the next deadline, or does nothing.
struct ConnectionDeadlines {
    enum Action: Equatable {
        case none
        case schedule(NIODeadline)
        case close
    }

    let idleTimeout: TimeAmount
    let readTimeout: TimeAmount
    /// First byte of the request being read.
    private(set) var requestStartedAt: NIODeadline?
    /// Requests read whose responses have not been written yet.
    private(set) var inFlight = 0
    /// When the connection last became idle (nil while busy).
    private(set) var idleSince: NIODeadline?
    /// The earliest pending timer.
    private(set) var nextFire: NIODeadline?

    init(idleTimeout: TimeAmount, readTimeout: TimeAmount) {
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
    }

    mutating func opened(now: NIODeadline) -> Action {
        idleSince = now
        return want(now + idleTimeout)
    }

    /// Raw bytes arrived.
    mutating func bytesRead(now: NIODeadline) -> Action {
        guard requestStartedAt == nil else { return .none }
        requestStartedAt = now
        idleSince = nil
        return want(now + readTimeout)
    }

    /// The decoder saw the end of a request.
    mutating func requestRead() {
        requestStartedAt = nil
        inFlight += 1
    }

    /// The end of a response was written.
    mutating func responseWritten(now: NIODeadline) -> Action {
        inFlight = max(0, inFlight - 1)
        guard inFlight == 0, requestStartedAt == nil else { return .none }
        idleSince = now
        return want(now + idleTimeout)
    }

    /// A timer scheduled for `deadline` fired.
    mutating func timerFired(scheduledFor deadline: NIODeadline, now: NIODeadline) -> Action {
        if nextFire == deadline { nextFire = nil }
        if let started = requestStartedAt {
            return now >= started + readTimeout ? .close : want(started + readTimeout)
        }
        if inFlight == 0, let idle = idleSince {
            return now >= idle + idleTimeout ? .close : want(idle + idleTimeout)
        }
        return .none
    }

    private mutating func want(_ deadline: NIODeadline) -> Action {
        if let pending = nextFire, pending <= deadline { return .none }
        nextFire = deadline
        return .schedule(deadline)
    }
}

/// Runs ``ConnectionDeadlines`` on a channel; first in the pipeline, so it sees each request's raw bytes.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Shared with the timers; touched only on the channel's event loop.
    final class Box: @unchecked Sendable {
        var deadlines: ConnectionDeadlines
        var active = true
        init(_ deadlines: ConnectionDeadlines) { self.deadlines = deadlines }
    }

    private let box: Box
    private var started = false

    init(idleTimeout: TimeAmount, readTimeout: TimeAmount) {
        box = Box(ConnectionDeadlines(idleTimeout: idleTimeout, readTimeout: readTimeout))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        Self.perform(box.deadlines.opened(now: .now()), box: box, channel: context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        Self.perform(box.deadlines.bytesRead(now: .now()), box: box, channel: context.channel)
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case is RequestReadComplete:
            box.deadlines.requestRead()
            promise?.succeed(())
        case is ResponseWritten:
            Self.perform(box.deadlines.responseWritten(now: .now()), box: box, channel: context.channel)
            promise?.succeed(())
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        box.active = false
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        box.active = false
    }

    private static func perform(_ action: ConnectionDeadlines.Action, box: Box, channel: any Channel) {
        switch action {
        case .none: break
        case .close: channel.close(promise: nil)
        case .schedule(let deadline):
            channel.eventLoop.scheduleTask(deadline: deadline) { [weak channel] in
                guard box.active, let channel else { return }
                perform(box.deadlines.timerFired(scheduledFor: deadline, now: .now()), box: box, channel: channel)
            }
        }
    }
}

/// Sent toward the socket by ``RequestEdgeHandler`` when a response has been written to its end.
struct ResponseWritten {}

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
            context.triggerUserOutboundEvent(ResponseWritten(), promise: nil)
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
