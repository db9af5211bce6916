module ambient.test/interop

go 1.19
