// go_echo_server: the peer a user would pick instead of greenhub: an echo
// server in Go's net package, a goroutine per connection (the runtime's
// netpoller parks a goroutine whose read would block, as greenhub parks a
// greenlet). Standard library only.
//
//	go_echo_server [PORT]      (PORT 0 or absent: any free port)
//
// Listens on 127.0.0.1, prints "listening on 127.0.0.1:PORT", serves until
// SIGTERM or SIGINT, then exits 0. Each connection reads up to 4 KiB (the
// legacy server's buffer, allocated once per connection) and writes it all
// back. GOMAXPROCS follows the CPU affinity mask (taskset -c 0: one P).
// Go raises the soft RLIMIT_NOFILE to the hard limit itself (since 1.19).
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func serve(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	port := 0
	if len(os.Args) > 2 {
		fmt.Fprintf(os.Stderr, "usage: %s [PORT]\n", os.Args[0])
		os.Exit(2)
	}
	if len(os.Args) == 2 {
		p, err := strconv.Atoi(os.Args[1])
		if err != nil || p < 0 || p > 65535 {
			fmt.Fprintf(os.Stderr, "go_echo_server: bad port '%s'\n", os.Args[1])
			os.Exit(2)
		}
		port = p
	}
	var limit syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit) == nil {
		limit.Cur = limit.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit)
	}
	listener, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "go_echo_server: listen: %v\n", err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		os.Exit(0)
	}()
	fmt.Printf("listening on %s\n", listener.Addr().String())
	for {
		conn, err := listener.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go_echo_server: accept: %v\n", err)
			time.Sleep(10 * time.Millisecond) // out of descriptors: let connections end
			continue
		}
		go serve(conn)
	}
}
