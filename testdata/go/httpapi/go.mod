module httpapi

go 1.21
