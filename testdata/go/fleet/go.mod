module fleet

go 1.21
