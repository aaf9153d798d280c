module example.com/madvise

go 1.21
