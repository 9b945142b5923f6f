import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one place that calls hiredis. It owns a blocking `redisContext`, keeps its pointers inside and turns
/// every C failure into a ``RedisError``. It is used from the connection's own I/O thread only.
final class HiredisContext {
    private let context: UnsafeMutablePointer<redisContext>

    private init(context: UnsafeMutablePointer<redisContext>) {
        self.context = context
    }

    deinit {
        redisFree(context)
    }

    /// Opens a blocking connection, then applies the command timeout to reads and writes.
    static func connect(
        to endpoint: RedisConfiguration.Endpoint,
        connectTimeout: Duration,
        commandTimeout: Duration
    ) throws(RedisError) -> HiredisContext {
        let made: UnsafeMutablePointer<redisContext>?
        switch endpoint {
        case .tcp(let host, let port):
            made = redisConnectWithTimeout(host, Int32(port), timeval(connectTimeout))
        case .unix(let path):
            made = redisConnectUnixWithTimeout(path, timeval(connectTimeout))
        }
        guard let made else { throw .connectionFailed("cannot allocate redis context") }
        let context = HiredisContext(context: made)
        if made.pointee.err != 0 {
            throw .connectionFailed(context.errorString)
        }
        if redisSetTimeout(made, timeval(commandTimeout)) != REDIS_OK {
            throw .connectionFailed(context.errorString)
        }
        if case .tcp = endpoint, redisEnableKeepAlive(made) != REDIS_OK {
            throw .connectionFailed(context.errorString)
        }
        return context
    }

    /// Queues already-encoded RESP bytes in hiredis's output buffer (no I/O yet).
    func append(_ bytes: [UInt8]) throws(RedisError) {
        let status = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                redisAppendFormattedCommand(context, $0.baseAddress, $0.count)
            }
        }
        if status != REDIS_OK { throw failure() }
    }

    /// Writes the output buffer out, in as few `write` calls as the socket allows.
    func flush() throws(RedisError) {
        var done: Int32 = 0
        while done == 0 {
            if redisBufferWrite(context, &done) != REDIS_OK { throw failure() }
        }
    }

    /// Reads the next reply, blocking up to the command timeout.
    func readReply() throws(RedisError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil {
            if let raw { freeReplyObject(raw) }
            throw failure()
        }
        let reply = raw!.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.decode(reply)
    }

    private static func decode(_ pointer: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = pointer.pointee
        switch reply.type {
        case REDIS_REPLY_STATUS:
            return .status(string(reply.str, reply.len))
        case REDIS_REPLY_ERROR:
            return .error(string(reply.str, reply.len))
        case REDIS_REPLY_INTEGER:
            return .integer(reply.integer)
        case REDIS_REPLY_STRING:
            guard let str = reply.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: Int(reply.len))))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(Int(reply.elements))
            for index in 0..<Int(reply.elements) {
                if let element = reply.element[index] {
                    items.append(decode(element))
                } else {
                    items.append(.null)
                }
            }
            return .array(items)
        default:
            return .error("unsupported reply type \(reply.type)")
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    /// Maps the context's error to a typed error. A read that hit `SO_RCVTIMEO` is a timeout.
    private func failure() -> RedisError {
        let code = errno
        let err = context.pointee.err
        if err == REDIS_ERR_IO && (code == EAGAIN || code == EWOULDBLOCK) {
            return .timeout
        }
        return .connectionLost(errorString)
    }

    private var errorString: String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
