module cpuphases

go 1.21
