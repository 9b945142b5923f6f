import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client socket on loopback, for tests that need what an HTTP client library hides:
/// idle connections, half-sent requests, malformed bytes, and seeing the server close. Wait on it inside
/// ``blocking(_:)``. (A descriptor: usable from any one thread at a time.)
final class RawSocket: @unchecked Sendable {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`; receive calls wait at most `timeout`.
    /// - Parameters:
    ///   - receiveBuffer: a small kernel receive buffer (`SO_RCVBUF`), for a client that reads slowly.
    ///   - connectTimeout: how long `connect` may wait (a server whose accept queue is full never answers).
    init(port: Int, timeout: Duration = .seconds(5), receiveBuffer: Int? = nil, connectTimeout: Duration? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError("socket: errno \(errno)") }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let connectTimeout {
            // Linux bounds a blocking connect by the send timeout.
            var value = Self.timeval(connectTimeout)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw RawSocketError("connect: errno \(code)")
        }
        setTimeout(timeout)
    }

    func setTimeout(_ timeout: Duration) {
        var value = Self.timeval(timeout)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    deinit { close(fd) }

    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Sends what the kernel takes now without waiting (a client that writes and never reads would
    /// otherwise block once the server stops reading); returns the number of bytes sent.
    @discardableResult
    func sendWithoutWaiting(_ text: String) -> Int {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            guard count > 0 else { break }
            sent += count
        }
        return sent
    }

    /// What has arrived by now, without waiting: the text, and whether the server has closed the connection.
    func receiveNow() -> (text: String, closed: Bool) {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 {
                text += String(decoding: buffer[..<count], as: UTF8.self)
                continue
            }
            return (text, count == 0 || !(errno == EAGAIN || errno == EWOULDBLOCK))
        }
    }

    enum ReadResult: Equatable {
        case data(String)
        /// The server closed the connection (EOF or reset).
        case closed
        /// Nothing arrived within the timeout.
        case timedOut
    }

    /// One read.
    func receive() -> ReadResult {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 { return .data(String(decoding: buffer[..<count], as: UTF8.self)) }
        if count == 0 { return .closed }
        return errno == EAGAIN || errno == EWOULDBLOCK ? .timedOut : .closed
    }

    /// Whether the server has closed the connection, without waiting: `.timedOut` means still open and silent.
    func peek() -> ReadResult {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        if count > 0 { return .data(String(UnicodeScalar(byte))) }
        if count == 0 { return .closed }
        return errno == EAGAIN || errno == EWOULDBLOCK ? .timedOut : .closed
    }

    /// The first bytes that have arrived, left unread (nothing consumed: a slow reader stays slow).
    func peekText(_ count: Int) -> String {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_PEEK)) }
        return got > 0 ? String(decoding: buffer[..<got], as: UTF8.self) : ""
    }

    /// Everything until the server closes the connection or the timeout passes.
    func receiveAll() -> (text: String, closed: Bool) {
        var text = ""
        while true {
            switch receive() {
            case .data(let chunk): text += chunk
            case .closed: return (text, true)
            case .timedOut: return (text, false)
            }
        }
    }

    /// One HTTP/1.1 response read up to its declared Content-Length (no chunked bodies in tests).
    func receiveResponse() -> String {
        var text = ""
        while true {
            if let split = text.range(of: "\r\n\r\n") {
                let head = text[..<split.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text[..<split.upperBound].utf8.count >= length { return text }
            }
            guard case .data(let chunk) = receive() else { return text }
            text += chunk
        }
    }
}

struct RawSocketError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs blocking socket work on a Dispatch thread. The gate under test runs its request handlers on the
/// cooperative thread pool, which is as wide as the machine has cores: tests that wait in `recv` on those
/// threads (two suites at once on a two-core machine) starve the very gate they wait for.
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
