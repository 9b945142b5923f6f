import NIOCore

/// Sent toward the socket by ``RequestEdgeHandler`` when a request has been read to its end.
struct RequestReadComplete {}

/// The idle, read and write deadlines of one connection as a pure state machine (events in, actions out),
/// so it is tested without a channel.
///
/// - idle: no request in progress (none being read, none being answered) for `idleTimeout` — from the
///   connection's start, or from the end of the last response;
/// - read: a request not read whole (head and body) within `readTimeout` of its first byte;
/// - write: output held above the connection's high-water mark (the client does not read its answers)
///   for `writeTimeout`. While it is there the connection reads no further requests (backpressure), so
///   without this deadline a client that pipelines requests and never reads would hold its connection —
///   and a slot under the connection cap — forever: it is never idle, and no request is being read.
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
    let writeTimeout: TimeAmount
    /// First byte of the request being read.
    private(set) var requestStartedAt: NIODeadline?
    /// Requests read whose responses have not been written yet.
    private(set) var inFlight = 0
    /// When the connection last became idle (nil while busy).
    private(set) var idleSince: NIODeadline?
    /// When the output went above the high-water mark (nil while it is below).
    private(set) var unwritableSince: NIODeadline?
    /// The earliest pending timer.
    private(set) var nextFire: NIODeadline?

    init(idleTimeout: TimeAmount, readTimeout: TimeAmount, writeTimeout: TimeAmount = .seconds(10)) {
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
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

    /// The channel's writability changed: unwritable means its output is above the high-water mark.
    mutating func writabilityChanged(writable: Bool, now: NIODeadline) -> Action {
        guard !writable else {
            unwritableSince = nil
            return .none
        }
        guard unwritableSince == nil else { return .none }
        unwritableSince = now
        return want(now + writeTimeout)
    }

    /// A timer scheduled for `deadline` fired.
    mutating func timerFired(scheduledFor deadline: NIODeadline, now: NIODeadline) -> Action {
        if nextFire == deadline { nextFire = nil }
        var due: [NIODeadline] = []
        if let stuck = unwritableSince { due.append(stuck + writeTimeout) }
        if let started = requestStartedAt {
            due.append(started + readTimeout)
        } else if inFlight == 0, let idle = idleSince {
            due.append(idle + idleTimeout)
        }
        guard let first = due.min() else { return .none }
        return now >= first ? .close : want(first)
    }

    private mutating func want(_ deadline: NIODeadline) -> Action {
        if let pending = nextFire, pending <= deadline { return .none }
        nextFire = deadline
        return .schedule(deadline)
    }
}

/// Runs ``ConnectionDeadlines`` on a channel; first in the pipeline, so it sees each request's raw bytes and
/// the socket's writability.
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

    init(idleTimeout: TimeAmount, readTimeout: TimeAmount, writeTimeout: TimeAmount) {
        box = Box(ConnectionDeadlines(idleTimeout: idleTimeout, readTimeout: readTimeout, writeTimeout: writeTimeout))
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

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        Self.perform(box.deadlines.writabilityChanged(writable: context.channel.isWritable, now: .now()), box: box, channel: context.channel)
        context.fireChannelWritabilityChanged()
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
