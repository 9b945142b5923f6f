import NIOCore
import Synchronization

/// The Redis protocol on one channel: requests go out as they come (everything submitted during one
/// event-loop turn leaves in one write), replies are parsed by hiredis and complete the requests in FIFO
/// order. That FIFO is the automatic pipelining: many callers, one connection, shared round trips.
///
/// Deadlines: the oldest request in flight carries the earliest deadline. When it passes without a reply,
/// Redis is stalled or gone: every request in flight fails with ``RedisError/timeout`` and the channel is
/// closed, so nothing more is written to a Redis that does not answer.
///
/// Everything here runs on the channel's event loop; nothing blocks.
final class RedisChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reader = HiredisReader()
    private let counters: RedisCounters
    private let onClose: (RedisChannelHandler, RedisError) -> Void
    private var context: ChannelHandlerContext?
    private var inFlight = CircularBuffer<RedisRequest>(initialCapacity: 64)
    private var outbound = ByteBuffer()
    private var outboundCommands = 0
    private var flushScheduled = false
    private var deadlineTimer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture
    /// Set once the channel is failing; later requests fail with it at once.
    private var failure: RedisError?
    private var closeReported = false

    /// - Parameter onClose: called once, on the event loop, when the channel is gone, with the reason.
    init(counters: RedisCounters, onClose: @escaping (RedisChannelHandler, RedisError) -> Void) {
        self.counters = counters
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        outbound = context.channel.allocator.buffer(capacity: 4096)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Writes `request` (after the rest of this event-loop turn's requests, in one flush) unless its deadline
    /// has already passed: such a request is never written.
    func send(_ request: RedisRequest) {
        guard let context, failure == nil else {
            request.complete(.failure(failure ?? .notConnected("connection closed")))
            return
        }
        if request.deadline <= .now() {
            request.complete(.failure(.timeout))
            return
        }
        outbound.writeBytes(request.encoded)
        outboundCommands += request.count
        inFlight.append(request)
        if !flushScheduled {
            flushScheduled = true
            // Runs after the tasks already queued on the loop: concurrent submissions share the write.
            context.eventLoop.assumeIsolated().execute { self.flushOutbound() }
        }
        // The handshake's deadline is later than a command's: a new earlier deadline re-arms the timer.
        if deadlineTimer == nil || request.deadline < timerDeadline { armTimer(at: request.deadline) }
    }

    /// Fails everything in flight with `error` and closes the channel.
    func close(with error: RedisError) {
        fail(error)
    }

    private func flushOutbound() {
        flushScheduled = false
        guard let context, failure == nil, outbound.readableBytes > 0 else { return }
        let bytes = outbound
        outbound = context.channel.allocator.buffer(capacity: 4096)
        counters.recordWrite(commands: outboundCommands)
        outboundCommands = 0
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do throws(RedisError) {
            let fed: RedisError? = buffer.withUnsafeReadableBytes { bytes in
                do throws(RedisError) { try reader.feed(bytes) } catch { return error }
                return nil
            }
            if let fed { throw fed }
            while let reply = try reader.next() {
                guard !inFlight.isEmpty else { throw .protocolError("a reply arrived with no command waiting for it") }
                inFlight[inFlight.startIndex].replies.append(reply)
                if inFlight[inFlight.startIndex].replies.count == inFlight[inFlight.startIndex].count {
                    let done = inFlight.removeFirst()
                    done.complete(.success(done.replies))
                }
            }
        } catch {
            fail(error)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(RedisTLSContext.failure(error) ?? .connectionLost("\(error)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = failure ?? .connectionLost("connection closed by the server")
        if failure == nil { failure = reason }
        failInFlight(reason)
        reportClose(reason)
        context.fireChannelInactive()
    }

    private func fail(_ error: RedisError) {
        guard failure == nil else { return }
        failure = error
        failInFlight(error)
        context?.close(promise: nil)
    }

    private func failInFlight(_ error: RedisError) {
        deadlineTimer?.cancel()
        deadlineTimer = nil
        while let request = inFlight.popFirst() {
            request.complete(.failure(error))
        }
    }

    private func reportClose(_ reason: RedisError) {
        guard !closeReported else { return }
        closeReported = true
        onClose(self, reason)
    }

    private func armTimer(at deadline: NIODeadline) {
        guard let context else { return }
        deadlineTimer?.cancel()
        timerDeadline = deadline
        deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.deadlinePassed() }
    }

    private func deadlinePassed() {
        deadlineTimer = nil
        guard let earliest = inFlight.lazy.map(\.deadline).min() else { return }
        if earliest <= .now() {
            fail(.timeout)
        } else {
            armTimer(at: earliest)
        }
    }
}

/// Counters shared by a client's connections (read from any thread).
final class RedisCounters: Sendable {
    private let commands = Atomic<Int>(0)
    private let writes = Atomic<Int>(0)

    func recordWrite(commands count: Int) {
        commands.add(count, ordering: .relaxed)
        writes.add(1, ordering: .relaxed)
    }

    var snapshot: RedisStatistics {
        RedisStatistics(commands: commands.load(ordering: .relaxed), writes: writes.load(ordering: .relaxed))
    }
}
