fn main() {
    eprintln!("charlstm-sim: not built yet");
    std::process::exit(1);
}
