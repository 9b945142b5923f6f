/// Encodes commands in the Redis protocol (RESP) so a whole batch goes to hiredis in one append.
enum RESPEncoder {
    static func encode(_ arguments: [RedisArgument], into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "*"))
        appendDecimal(arguments.count, to: &buffer)
        buffer.append(contentsOf: crlf)
        for argument in arguments {
            switch argument.storage {
            case .string(let text):
                var text = text
                text.withUTF8 { appendBulk($0, to: &buffer) }
            case .bytes(let bytes):
                bytes.withUnsafeBufferPointer { appendBulk($0, to: &buffer) }
            case .integer(let value):
                var digits: [UInt8] = []
                appendDecimal(value, to: &digits)
                digits.withUnsafeBufferPointer { appendBulk($0, to: &buffer) }
            }
        }
    }

    private static let crlf: [UInt8] = [13, 10]

    private static func appendBulk(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "$"))
        appendDecimal(bytes.count, to: &buffer)
        buffer.append(contentsOf: crlf)
        buffer.append(contentsOf: bytes)
        buffer.append(contentsOf: crlf)
    }

    private static func appendDecimal<T: BinaryInteger>(_ value: T, to buffer: inout [UInt8]) {
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        if magnitude == 0 {
            buffer.append(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while magnitude > 0 {
                raw[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) {
                buffer.append(raw[index])
            }
        }
    }
}

/// One argument of a Redis command.
public struct RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    enum Storage: Sendable, Hashable {
        case string(String)
        case bytes([UInt8])
        case integer(Int64)
    }

    let storage: Storage

    public init(_ text: String) { storage = .string(text) }
    public init(_ bytes: [UInt8]) { storage = .bytes(bytes) }
    public init<T: BinaryInteger>(_ value: T) { storage = .integer(Int64(value)) }
    public init(stringLiteral value: String) { storage = .string(value) }
    public init(integerLiteral value: Int64) { storage = .integer(value) }
}

extension RedisArgument {
    /// The argument as Redis receives it (for hashing a key to its Cluster slot, or reading a command name).
    var bytes: [UInt8] {
        switch storage {
        case .string(let text): Array(text.utf8)
        case .bytes(let bytes): bytes
        case .integer(let value): Array(String(value).utf8)
        }
    }
}
