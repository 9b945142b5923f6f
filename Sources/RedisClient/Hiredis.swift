import CHiredis

/// The one place that calls hiredis: its RESP reader (`redisReaderCreate`, `redisReaderFeed`,
/// `redisReaderGetReply`). The transport is ours (a NIO channel); hiredis only parses the bytes it is fed.
/// Replies become ``RedisReply`` values at once, so no C pointer escapes; C failures become ``RedisError``.
///
/// Not thread-safe: each connection's channel handler owns one reader and uses it on its event loop.
final class HiredisReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        // redisReaderCreate only fails when malloc does.
        guard let made = redisReaderCreate() else { fatalError("hiredis: cannot allocate a reader") }
        reader = made
    }

    deinit {
        redisReaderFree(reader)
    }

    /// Appends bytes read from the socket to the reader's buffer.
    func feed(_ bytes: UnsafeRawBufferPointer) throws(RedisError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count) != REDIS_OK {
            throw .protocolError(errorString)
        }
    }

    /// The next complete reply in the buffer, or `nil` when more bytes are needed.
    func next() throws(RedisError) -> RedisReply? {
        var raw: UnsafeMutableRawPointer?
        if redisReaderGetReply(reader, &raw) != REDIS_OK {
            if let raw { freeReplyObject(raw) }
            throw .protocolError(errorString)
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.decode(raw.assumingMemoryBound(to: redisReply.self))
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

    private var errorString: String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
