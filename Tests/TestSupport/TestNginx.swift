import Foundation

/// Debian's `nginx` running the repository's reference configuration (`Docker/nginx.conf`) on loopback, in
/// front of test gates: the same file, with only what a test machine must change rewritten (the upstream
/// servers, the port, the paths, no `user`). A watchdog shell kills it when the test process exits.
public final class TestNginx: Sendable {
    public let port: Int
    public let directory: URL

    public var base: String { "http://127.0.0.1:\(port)" }

    /// The reference configuration with `upstreams` (loopback ports) as the gates.
    public static func configuration(reference: String, upstreams: [Int], port: Int, directory: URL) throws -> String {
        var text = reference
        let servers = upstreams.map { "        server 127.0.0.1:\($0);" }.joined(separator: "\n")
        let upstream = try Regex(#"(upstream waitroom_gates \{\n)(?:\s*server [^\n]+\n)+"#)
        guard text.contains(upstream) else { throw TestSupportError("Docker/nginx.conf has no upstream waitroom_gates block") }
        text.replace(upstream) { match in "upstream waitroom_gates {\n" + servers + "\n" }
        let path = directory.path
        let replacements: [(String, String)] = [
            ("user  nginx;\n", ""),
            ("error_log  /var/log/nginx/error.log notice;", "error_log  \(path)/error.log notice;"),
            ("pid        /var/run/nginx.pid;", "pid        \(path)/nginx.pid;"),
            ("access_log  /var/log/nginx/access.log;", "access_log  \(path)/access.log;\n    client_body_temp_path \(path)/body;\n    proxy_temp_path \(path)/proxy;\n    fastcgi_temp_path \(path)/fastcgi;\n    uwsgi_temp_path \(path)/uwsgi;\n    scgi_temp_path \(path)/scgi;"),
            ("/var/cache/nginx/waitroom", "\(path)/cache"),
            ("listen 80;", "listen 127.0.0.1:\(port);"),
        ]
        for (from, to) in replacements {
            guard text.contains(from) else { throw TestSupportError("Docker/nginx.conf no longer has `\(from)`") }
            text = text.replacingOccurrences(of: from, with: to)
        }
        return text
    }

    /// Starts nginx with the reference configuration in front of `upstreams`.
    public static func start(reference: URL, upstreams: [Int]) async throws -> TestNginx {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("waitroom-test-nginx-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // nginx's workers drop to `nobody` when started as root: they must be able to write the cache there.
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
        let port = try freePort()
        let text = try configuration(reference: String(contentsOf: reference, encoding: .utf8), upstreams: upstreams, port: port, directory: directory)
        let file = directory.appendingPathComponent("nginx.conf")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let binary = FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx"
        try startWatched(
            "\(binary) -p '\(directory.path)' -c '\(file.path)' -g 'daemon off;' 2>>'\(directory.path)/stderr.log'",
            stop: "kill -QUIT $child 2>/dev/null; sleep 1; kill -9 $child 2>/dev/null"
        )
        let nginx = TestNginx(port: port, directory: directory)
        try await waitUntil(timeout: .seconds(10)) { nginx.listens() }
        return nginx
    }

    private init(port: Int, directory: URL) {
        self.port = port
        self.directory = directory
    }

    /// Stops nginx (the watchdog sees its child gone and exits).
    public func stop() {
        if let text = try? String(contentsOf: directory.appendingPathComponent("nginx.pid"), encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGQUIT)
        }
    }

    private func listens() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
