from review_app.launch import main

main()
